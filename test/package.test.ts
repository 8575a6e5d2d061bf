// Packaging: `npm pack` ships dist/ (ESM, CJS, types, the four .wasm builds)
// and nothing of the sources or build folders; the tarball installs into a
// fresh folder and works from an ESM and a CommonJS script, on one thread and
// with init({ threads: 2 }).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'recurrent-wasm-pack-'));

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('npm package', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  let tarball = '';
  it('npm pack contains dist and the wasm, not the sources', () => {
    // the build already ran (npm test builds first): pack without re-running prepare
    const out = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root));
    const files: string[] = out[0].files.map((f: { path: string }) => f.path);
    tarball = join(work, out[0].filename);
    const wasm = [
      'recurrent_core_bg.wasm',
      'recurrent_core_relaxed_bg.wasm',
      'recurrent_core_mt_bg.wasm',
      'recurrent_core_mt_relaxed_bg.wasm',
    ];
    for (const f of [
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
      ...wasm.map((w) => `dist/${w}`),
    ]) {
      expect(files).toContain(f);
    }
    for (const f of files) {
      expect(f).not.toMatch(/^(crate|ts|target|test|scripts|bench|\.tools|node_modules)\//);
    }
  });

  it('installs into a fresh folder and loads from ESM and CommonJS', () => {
    const app = join(work, 'app');
    run('mkdir', ['-p', app], work);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], app);
    const program = (imp: string) => `${imp}
(async () => {
  const info = await init(process.argv[2] ? { threads: Number(process.argv[2]) } : undefined);
  const c = matmul([1, 2, 3, 4, 5, 6], [1, 0, 0, 1, 1, 1], 2, 3, 2);
  console.log(JSON.stringify({ simd: info.simd, threads: info.threads, c: Array.from(c) }));
})().catch((e) => { console.error(e); process.exit(1); });`;
    writeFileSync(join(app, 'esm.mjs'), program(`import { init, matmul } from 'recurrent-wasm';`));
    writeFileSync(join(app, 'cjs.cjs'), program(`const { init, matmul } = require('recurrent-wasm');`));
    const esm = JSON.parse(run('node', ['esm.mjs'], app));
    const cjs = JSON.parse(run('node', ['cjs.cjs'], app));
    expect(esm.c).toEqual([4, 5, 10, 11]);
    expect(cjs).toEqual(esm);
    // the threaded build is found beside the installed package too
    for (const script of ['esm.mjs', 'cjs.cjs']) expect(JSON.parse(run('node', [script, '2'], app))).toEqual({ ...esm, threads: 2 });
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/recurrent-wasm/package.json'), 'utf8'));
    expect(pkg.name).toBe('recurrent-wasm');
  });
});
