import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'ts/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: false,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // import.meta.url in the CJS build (to find the .wasm beside dist/index.cjs)
  shims: true,
  outDir: 'dist',
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
});
