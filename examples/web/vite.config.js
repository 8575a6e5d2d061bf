// Vite config for the in-browser training demo. The library is served as the
// built package files (dist/index.js, dist/worker.js and the .wasm builds,
// copied to public/lib), exactly what an app gets from npm; Vite bundles the
// demo's own code. `npm run demo:web` (dev server), `npm run build:web`.
import { copyFileSync, mkdirSync } from 'node:fs';
import { defineConfig } from 'vite';

const here = new URL('.', import.meta.url);
function copyLibrary() {
  const lib = new URL('public/lib/', here);
  mkdirSync(lib, { recursive: true });
  for (const f of ['index.js', 'worker.js', 'recurrent_core_bg.wasm', 'recurrent_core_relaxed_bg.wasm']) copyFileSync(new URL(`../../dist/${f}`, here), new URL(f, lib));
  copyFileSync(new URL('../../data/sonnets.txt', here), new URL('public/sonnets.txt', here));
}

export default defineConfig({
  root: here.pathname,
  base: './',
  logLevel: 'warn',
  plugins: [{ name: 'recurrent-wasm-library', buildStart: copyLibrary }],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { host: '127.0.0.1' },
});
