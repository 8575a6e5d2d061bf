// init() from each kind of source the runtimes need — a compiled module
// (Cloudflare Workers), bytes, a URL (browsers/workers, served over HTTP here),
// and the default file lookup — each in a fresh Node process against the built
// package, computing the same GEMM.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dist = new URL('../dist/', import.meta.url);
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    try {
      const body = readFileSync(new URL(`.${req.url}`, dist));
      res.writeHead(200, { 'content-type': 'application/wasm' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function runWith(initExpr: string): Promise<{ simd: string; source: string; c: number[] }> {
  const program = `
import { readFileSync } from 'node:fs';
import { init, matmul } from ${JSON.stringify(new URL('index.js', dist).href)};
const wasmFile = ${JSON.stringify(new URL('recurrent_core_bg.wasm', dist).pathname)};
const info = await init(${initExpr});
const c = matmul([1, 2, 3, 4, 5, 6], [1, 0, 0, 1, 1, 1], 2, 3, 2);
console.log(JSON.stringify({ ...info, c: Array.from(c) }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', program]);
  return JSON.parse(stdout);
}

describe('init() sources', () => {
  it('default: finds the .wasm beside the package', async () => {
    const r = await runWith('');
    expect(r).toEqual({ simd: 'simd128', source: 'file', threads: 1, c: [4, 5, 10, 11] });
  });
  it('{ module }: a compiled WebAssembly.Module (workerd-style)', async () => {
    const r = await runWith('{ module: new WebAssembly.Module(readFileSync(wasmFile)) }');
    expect(r).toEqual({ simd: 'simd128', source: 'module', threads: 1, c: [4, 5, 10, 11] });
  });
  it('{ bytes }: the bytes of the .wasm', async () => {
    const r = await runWith('{ bytes: readFileSync(wasmFile) }');
    expect(r).toEqual({ simd: 'simd128', source: 'bytes', threads: 1, c: [4, 5, 10, 11] });
  });
  it('{ url }: fetched over HTTP', async () => {
    const r = await runWith(`{ url: ${JSON.stringify(`${base}recurrent_core_bg.wasm`)} }`);
    expect(r).toEqual({ simd: 'simd128', source: 'url', threads: 1, c: [4, 5, 10, 11] });
  });
  it('{ module } of the threaded build with threads: 2 starts a helper', async () => {
    const mt = JSON.stringify(new URL('recurrent_core_mt_bg.wasm', dist).pathname);
    const r = await runWith(`{ module: new WebAssembly.Module(readFileSync(${mt})), threads: 2 }`);
    expect(r).toEqual({ simd: 'simd128', source: 'module', threads: 2, c: [4, 5, 10, 11] });
  });
  it('{ url } that does not exist: a clear InitError', async () => {
    await expect(runWith(`{ url: ${JSON.stringify(`${base}missing.wasm`)} }`)).rejects.toThrow(
      /InitError: could not load the recurrent-wasm WebAssembly core/,
    );
  });
});
