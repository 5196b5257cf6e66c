import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',            // each file gets its own process (and its own Dawn instance)
    maxWorkers: 2,
    testTimeout: 300_000,     // lavapipe runs kernels on the CPU
    hookTimeout: 120_000,
  },
});
