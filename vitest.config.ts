import { defineConfig } from 'vitest/config';

// Two projects: the suites run against the simd128 build, and the kernel suites
// run again against the relaxed-SIMD build (5×8 tile, fused multiply-add),
// which Node 20 only validates behind a V8 flag.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2-core machines: one file at a time keeps timings and memory predictable
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'simd128',
          include: ['test/**/*.test.ts'],
          env: { RECURRENT_WASM_SIMD: 'simd128' },
          // --expose-gc: the test that dropped models are reclaimed
          execArgv: ['--expose-gc'],
        },
      },
      {
        extends: true,
        test: {
          name: 'relaxed',
          include: ['test/cells-*.test.ts', 'test/session.test.ts'],
          execArgv: ['--experimental-wasm-relaxed-simd'],
          env: { RECURRENT_WASM_SIMD: 'relaxed' },
        },
      },
    ],
  },
});
