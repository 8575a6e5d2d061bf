// The package in real runtimes — Chromium (plain <script type="module">, a
// module Web Worker, an esbuild bundle), workerd (Cloudflare Workers), Deno
// and Bun — running the same scenario (load a saved model, predict, stream,
// generate with a seed) as Node, on the same simd128 build: the numbers must
// be identical. Runtimes come from scripts/install-runtimes.sh; a missing one
// is skipped with the reason printed.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer as netServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type StaticServer } from './helpers/static-server.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const rt = join(root, '.tools/runtimes/node_modules');
const bin = (name: string) => join(rt, '.bin', name);
const work = mkdtempSync(join(tmpdir(), 'recurrent-wasm-runtimes-'));
const modelPath = join(work, 'model.safetensors');
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

function missing(what: string, present: boolean, how: string): boolean {
  if (!present) console.warn(`[runtimes] skipping ${what}: ${how}`);
  return !present;
}

interface Result {
  simd: string;
  shape: number[];
  y: number[];
  steps: number[];
  text: string;
  error?: string;
}

let reference: Result;
interface ThreadRun {
  threads: number;
  losses: number[];
  weights: string;
  predicted: string;
  steps: string[];
  q8predicted: string[];
}
let threadReference: ThreadRun;
let server: StaticServer | undefined;
let base = '';

async function freePort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  // a small char model, saved by the built package in Node
  const lib = await import(join(dist, 'index.js'));
  await lib.init({ simd: 'simd128' });
  const tok = lib.CharTokenizer.fromText('the quick brown fox jumps over the lazy dog.');
  const m = new lib.Sequential(
    [
      lib.layers.embedding({ inputDim: tok.vocabSize, outputDim: 8, inputShape: [null] }),
      lib.layers.lstm({ units: 24, returnSequences: true }),
      lib.layers.gru({ units: 16, returnSequences: true }),
      lib.layers.dense({ units: tok.vocabSize, activation: 'softmax' }),
    ],
    { seed: 11 },
  );
  writeFileSync(modelPath, m.save());
  const { stdout } = await run(process.execPath, [join(root, 'test/runtimes/run-cli.mjs'), `file://${dist}/`, modelPath, 'simd128']);
  reference = JSON.parse(stdout);
  // static server for the browser tests
  // /isolated/… serves the same files with COOP + COEP (cross-origin isolated pages)
  server = await serveStatic(
    (path) => {
      if (path.startsWith('/isolated/')) path = path.slice('/isolated'.length);
      const file = path === '/model.safetensors' ? modelPath : path.startsWith('/bundle/') ? join(work, path) : join(root, path);
      return file.startsWith(root) || file.startsWith(work) ? file : null;
    },
    (path): Record<string, string> =>
      path.startsWith('/isolated/') ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {},
  );
  // the thread scenario's numbers from the plain simd128 build in Node
  threadReference = JSON.parse(
    (await run(process.execPath, [join(root, 'test/runtimes/threads-cli.mjs'), `file://${dist}/`, '{"simd":"simd128"}', '1'])).stdout,
  ).runs[0];
  base = server.base;
}, 120_000);

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

function expectSame(r: Result, label: string) {
  expect(r.error, `${label}: ${r.error}`).toBeUndefined();
  expect(r.simd, label).toBe('simd128');
  expect(r.shape).toEqual(reference.shape);
  expect(r.y, `${label} predict`).toEqual(reference.y); // bit-identical: same wasm, IEEE arithmetic
  expect(r.steps, `${label} session steps`).toEqual(reference.steps);
  expect(r.text, `${label} generated text`).toBe(reference.text);
}

describe('Node reference', () => {
  it('ran the scenario', () => {
    expect(reference.y.length).toBe(3 * 9 * 30);
    expect(reference.text).toHaveLength(40);
  });
});

describe.skipIf(
  missing(
    'Chromium',
    !!chromiumPath && existsSync(join(rt, 'playwright-core')),
    'apt-get install chromium and run scripts/install-runtimes.sh',
  ),
)('Chromium (Debian package, playwright-core)', () => {
  // playwright-core lives in .tools/runtimes (not a devDependency): typed minimally here
  interface Page {
    on(ev: 'pageerror', f: (e: unknown) => void): void;
    goto(u: string): Promise<unknown>;
    waitForFunction(f: () => unknown, arg: undefined, o: { timeout: number }): Promise<{ jsonValue(): Promise<unknown> }>;
    close(): Promise<void>;
  }
  let browser: { newPage(): Promise<Page>; close(): Promise<void> };
  beforeAll(async () => {
    const { chromium } = await import(join(rt, 'playwright-core/index.js'));
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // the bundler case: esbuild (tsup's) resolves 'recurrent-wasm' to dist/; the
    // .wasm files go next to the bundle, as a bundler's asset step would put them
    const esbuild = await import('esbuild');
    mkdirSync(join(work, 'bundle'), { recursive: true });
    await esbuild.build({
      entryPoints: [join(root, 'test/runtimes/bundle-entry.mjs')],
      bundle: true,
      format: 'esm',
      outfile: join(work, 'bundle/app.js'),
      alias: { 'recurrent-wasm': join(dist, 'index.js') },
      logLevel: 'silent',
    });
    for (const f of ['recurrent_core_bg.wasm', 'recurrent_core_relaxed_bg.wasm']) copyFileSync(join(dist, f), join(work, 'bundle', f));
  }, 60_000);
  afterAll(async () => browser?.close());

  async function pageResult(path: string): Promise<Result> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}${path}`);
    const h = await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result, undefined, { timeout: 60_000 });
    const r = (await h.jsonValue()) as Result;
    await page.close();
    if (errors.length) r.error = errors.join('\n');
    return r;
  }

  it('a plain <script type="module"> page: identical numbers and text', async () => {
    expectSame(await pageResult('/test/runtimes/page.html?simd=simd128'), 'chromium page');
  });
  it('a module Web Worker: identical numbers and text', async () => {
    expectSame(await pageResult('/test/runtimes/worker-page.html?simd=simd128'), 'chromium worker');
  });
  it('an esbuild bundle importing the package by name: identical', async () => {
    expectSame(await pageResult('/test/runtimes/bundle-page.html?simd=simd128'), 'chromium bundle');
  });
  it('training in a Web Worker (ModelWorker) keeps the page responsive and reports progress', async () => {
    const r = (await pageResult('/test/runtimes/train-worker-page.html')) as unknown as {
      error?: string;
      events: number[];
      worst: number;
      ticks: number;
      before: number;
      after: number;
      seconds: number;
    };
    expect(r.error).toBeUndefined();
    expect(r.events).toHaveLength(8);
    expect(r.after).toBeLessThan(r.before);
    expect(r.worst).toBeLessThan(150); // the main thread never froze
    expect(r.ticks).toBeGreaterThan(r.seconds * 30);
  });

  it('threads: a cross-origin-isolated page runs the threaded build with a helper Worker; numbers identical to Node', async () => {
    type Page = { error?: string; isolated: boolean; info: { threads: number; simd: string }; runs: ThreadRun[] };
    const r = (await pageResult('/isolated/test/runtimes/threads-page.html?simd=simd128')) as unknown as Page;
    expect(r.error).toBeUndefined();
    expect(r.isolated).toBe(true);
    expect(r.info).toMatchObject({ threads: 2, simd: 'simd128' });
    expect(r.runs.map((x) => x.threads)).toEqual([1, 2]);
    for (const x of r.runs) expect({ ...x, threads: 1, ms: 0 }).toEqual({ ...threadReference, threads: 1, ms: 0 });
    // by default: the threaded relaxed-SIMD build, the same numbers at 1 and 2 threads
    const d = (await pageResult('/isolated/test/runtimes/threads-page.html')) as unknown as Page;
    expect(d.error).toBeUndefined();
    expect(d.info).toMatchObject({ threads: 2, simd: 'relaxed' });
    expect({ ...d.runs[1], threads: 1, ms: 0 }).toEqual({ ...d.runs[0], threads: 1, ms: 0 });
  });
  it('threads: a page without cross-origin isolation stays on one thread and says why', async () => {
    const r = (await pageResult('/test/runtimes/threads-page.html?simd=simd128')) as unknown as {
      error?: string;
      info: { threads: number; threadsNote?: string };
      runs: ThreadRun[];
    };
    expect(r.error).toBeUndefined();
    expect(r.info.threads).toBe(1);
    expect(r.info.threadsNote).toMatch(/cross-origin isolated.*Cross-Origin-Opener-Policy/);
    expect({ ...r.runs[0], ms: 0 }).toEqual({ ...threadReference, ms: 0 });
  });

  it('by default Chromium loads the relaxed-SIMD build; its numbers agree within 1e-5', async () => {
    const r = await pageResult('/test/runtimes/page.html');
    expect(r.error).toBeUndefined();
    expect(r.simd).toBe('relaxed');
    for (const [i, v] of r.y.entries()) expect(Math.abs(v - reference.y[i])).toBeLessThan(1e-5);
  });
});

describe.skipIf(missing('Deno', existsSync(bin('deno')), 'npm package deno (scripts/install-runtimes.sh)'))('Deno (npm package)', () => {
  it('imports the package from disk: identical numbers and text', async () => {
    const { stdout } = await run(
      bin('deno'),
      ['run', '--allow-read', '--allow-env', join(root, 'test/runtimes/run-cli.mjs'), `file://${dist}/`, modelPath, 'simd128'],
      { env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } },
    );
    const r = JSON.parse(stdout);
    expect(r.runtime).toBe('deno');
    expectSame(r, 'deno');
  });
  it('threads: init({ threads: 2 }) runs a helper Worker; numbers identical to Node', async () => {
    const { stdout } = await run(
      bin('deno'),
      [
        'run',
        '--allow-read',
        '--allow-env',
        join(root, 'test/runtimes/threads-cli.mjs'),
        `file://${dist}/`,
        '{"threads":2,"simd":"simd128"}',
        '1',
        '2',
      ],
      { env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } },
    );
    const r = JSON.parse(stdout) as { info: { threads: number }; runs: ThreadRun[] };
    expect(r.info.threads).toBe(2);
    for (const x of r.runs) expect({ ...x, threads: 1, ms: 0 }).toEqual({ ...threadReference, threads: 1, ms: 0 });
  });
});

describe.skipIf(missing('Bun', existsSync(bin('bun')), 'npm package bun (scripts/install-runtimes.sh)'))('Bun (npm package)', () => {
  it('imports the package from disk: identical numbers and text', async () => {
    const { stdout } = await run(bin('bun'), [join(root, 'test/runtimes/run-cli.mjs'), `file://${dist}/`, modelPath, 'simd128']);
    const r = JSON.parse(stdout);
    expect(r.runtime).toBe('bun');
    expectSame(r, 'bun');
  });
  it('threads: init({ threads: 2 }) runs a helper Worker; numbers identical to Node', async () => {
    const { stdout } = await run(bin('bun'), [
      join(root, 'test/runtimes/threads-cli.mjs'),
      `file://${dist}/`,
      '{"threads":2,"simd":"simd128"}',
      '1',
      '2',
    ]);
    const r = JSON.parse(stdout) as { info: { threads: number }; runs: ThreadRun[] };
    expect(r.info.threads).toBe(2);
    for (const x of r.runs) expect({ ...x, threads: 1, ms: 0 }).toEqual({ ...threadReference, threads: 1, ms: 0 });
  });
});

describe.skipIf(missing('workerd', existsSync(bin('workerd')), 'npm package workerd (scripts/install-runtimes.sh)'))(
  'workerd (Cloudflare Workers runtime)',
  () => {
    let proc: ChildProcess;
    let url = '';
    beforeAll(async () => {
      const dir = join(work, 'workerd');
      mkdirSync(dir, { recursive: true });
      for (const f of ['workerd.js', 'recurrent_core_bg.wasm']) copyFileSync(join(dist, f), join(dir, f));
      for (const f of ['worker-edge.mjs', 'scenario.mjs']) copyFileSync(join(root, 'test/runtimes', f), join(dir, f));
      copyFileSync(modelPath, join(dir, 'model.safetensors'));
      const port = await freePort();
      writeFileSync(
        join(dir, 'config.capnp'),
        `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker-edge.mjs", esModule = embed "worker-edge.mjs"),
    (name = "workerd.js", esModule = embed "workerd.js"),
    (name = "scenario.mjs", esModule = embed "scenario.mjs"),
    (name = "recurrent_core_bg.wasm", wasm = embed "recurrent_core_bg.wasm"),
    (name = "model.bin", data = embed "model.safetensors"),
  ],
  compatibilityDate = "2025-01-01",
);
`,
      );
      proc = spawn(bin('workerd'), ['serve', join(dir, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      proc.stderr?.on('data', (d) => (log += d));
      url = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 100; i++) {
        try {
          await fetch(`${url}/memory`);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`workerd did not start: ${log}`);
    }, 60_000);
    afterAll(() => proc?.kill());

    it('runs the scenario with the wasm imported as a module: identical numbers and text', async () => {
      expectSame((await (await fetch(`${url}/scenario`)).json()) as Result, 'workerd');
    });

    it('answers predictions; bad requests get a clear 400 and the Worker keeps serving', async () => {
      const post = (path: string, body: string | Uint8Array) => fetch(`${url}${path}`, { method: 'POST', body: body as BodyInit });
      const ok = await post('/', JSON.stringify({ ids: [[2, 3, 4, 5, 6, 7, 8, 9, 10]] }));
      expect(ok.status).toBe(200);
      const y = ((await ok.json()) as { y: number[] }).y;
      const lib = await import(join(dist, 'index.js'));
      const local = lib
        .loadModel(new Uint8Array(readFileSync(modelPath)))
        .predict(lib.tensor(new Int32Array([2, 3, 4, 5, 6, 7, 8, 9, 10]), [1, 9]));
      expect(y).toEqual(Array.from(local.data));
      const bad = [
        ['/', '{"ids": [[1, 2], [3]]}', /ShapeError: ids rows must have equal lengths/],
        ['/', '{"ids": [[1, 2, 999]]}', /ValueError: embedding_\d+: id 999 at \[0, 2\] is outside \[0, 30\)/],
        ['/', 'not json', /SyntaxError|expected/],
        ['/', '{"ids": [[1, 2, 3]], "state": {"format": "nope"}}', /not a recurrent-wasm session state/],
        ['/load', readFileSync(modelPath).subarray(0, 100), /FormatError/],
      ] as const;
      for (const [path, body, msg] of bad) {
        const r = await post(path, body as string);
        expect(r.status, String(body).slice(0, 40)).toBeGreaterThanOrEqual(400);
        expect(((await r.json()) as { error: string }).error).toMatch(msg);
      }
      const again = await post('/', JSON.stringify({ ids: [[2, 3, 4, 5, 6, 7, 8, 9, 10]] }));
      expect(((await again.json()) as { y: number[] }).y).toEqual(y);
    });

    it('stays far inside the 128 MB memory budget of a Worker isolate', async () => {
      const { wasmBytes } = (await (await fetch(`${url}/memory`)).json()) as { wasmBytes: number };
      expect(wasmBytes).toBeLessThan(32 * 1024 * 1024);
    });
  },
);
