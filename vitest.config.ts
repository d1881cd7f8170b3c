import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/*.test.ts'],
    // onnxruntime-node is a native addon: child processes isolate it more safely than worker threads.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
