import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native memory tests count faults on the calling thread: run files in
    // forked processes (one thread each), not worker threads.
    pool: 'forks',
    // scripts/arm64-test.sh raises these for its runs under qemu-user (every
    // instruction emulated: ~10-30x slower); native runs keep 60 s.
    testTimeout: Number(process.env.PAGEWISE_TEST_TIMEOUT_MS ?? 60_000),
    hookTimeout: Number(process.env.PAGEWISE_TEST_TIMEOUT_MS ?? 60_000),
    // Tests load what was just compiled; the arm64 run (scripts/arm64-test.sh)
    // sets PAGEWISE_FROM_SOURCE=0 to load prebuilds/linux-arm64 instead.
    env: { PAGEWISE_FROM_SOURCE: process.env.PAGEWISE_FROM_SOURCE ?? '1' },
  },
});
