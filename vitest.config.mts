import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native memory tests count faults on the calling thread: run files in
    // forked processes (one thread each), not worker threads.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { PAGEWISE_FROM_SOURCE: '1' },
  },
});
