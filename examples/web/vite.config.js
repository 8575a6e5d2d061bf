// Vite config for the in-browser training demo. The library is served as the
// built package files (dist/index.js, dist/worker.js and the .wasm builds,
// copied to public/lib), exactly what an app gets from npm; Vite bundles the
// demo's own code. `npm run demo:web` (dev server), `npm run build:web`.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { defineConfig } from 'vite';

const here = new URL('.', import.meta.url);
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
function copyLibrary() {
  const lib = new URL('public/lib/', here);
  mkdirSync(lib, { recursive: true });
  for (const f of ['index.js', 'worker.js', 'recurrent_core_bg.wasm', 'recurrent_core_relaxed_bg.wasm'])
    copyFileSync(new URL(`../../dist/${f}`, here), new URL(f, lib));
  // the threaded builds, when the package has them (init({ threads }) in the worker)
  for (const f of ['recurrent_core_mt_bg.wasm', 'recurrent_core_mt_relaxed_bg.wasm']) {
    if (existsSync(new URL(`../../dist/${f}`, here))) copyFileSync(new URL(`../../dist/${f}`, here), new URL(f, lib));
  }
  copyFileSync(new URL('../../data/sonnets.txt', here), new URL('public/sonnets.txt', here));
}

export default defineConfig({
  root: here.pathname,
  base: './',
  logLevel: 'warn',
  plugins: [{ name: 'recurrent-wasm-library', buildStart: copyLibrary }],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  // cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, so
  // the training worker can run the threaded core; any static host serving
  // the built demo needs the same two headers for that (without them it
  // trains on one thread)
  server: { host: '127.0.0.1', headers: ISOLATION },
  preview: { headers: ISOLATION },
});
