import { defineConfig, type Options } from 'tsup';

// Whitespace and syntax minified (comments go),
// identifiers kept so stack traces stay readable.
const small: Options['esbuildOptions'] = (o) => {
  o.minifyWhitespace = true;
  o.minifySyntax = true;
  o.legalComments = 'none';
};

// the self-contained single-file bundles beside the main entry
const extra: Options = {
  format: ['esm'],
  dts: false,
  sourcemap: false,
  clean: false,
  target: 'es2022',
  esbuildOptions: small,
  platform: 'neutral',
  splitting: false,
  outDir: 'dist',
};

export default defineConfig([
  {
    entry: { index: 'ts/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: false,
    clean: true,
    target: 'es2022',
    esbuildOptions: small,
    platform: 'neutral',
    splitting: false,
    // import.meta.url in the CJS build (to find the .wasm beside dist/index.cjs)
    shims: true,
    outDir: 'dist',
    outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
  },
  {
    // the ModelWorker script (browser module worker or Node worker_thread), self-contained
    ...extra,
    entry: { worker: 'ts/worker-entry.ts' },
  },
  {
    // Cloudflare Workers / workerd: self-contained module that imports the .wasm as a module
    ...extra,
    entry: { workerd: 'ts/workerd.ts' },
    external: [/\.wasm$/],
  },
  {
    // the `recurrent-wasm` command line; imports the library by its package
    // name (resolved to dist/index.js by Node's package self-reference), and
    // bundles its own argument parser and progress bar
    ...extra,
    entry: { cli: 'ts/cli/index.ts' },
    target: 'node18',
    platform: 'node',
    external: ['recurrent-wasm'],
    noExternal: ['commander', 'cli-progress'],
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  },
]);
