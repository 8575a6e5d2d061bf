import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2-core machines: one file at a time keeps timings and memory predictable
    fileParallelism: false,
  },
});
