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
    // CI (.ci/run sets PAGEWISE_TEST_RETRY=2) retries a failed test: exact
    // counts on a shared 2-core VM can catch a stray fault of V8's own
    // threads or of the sanitizer/emulator runtime; a real bug fails every
    // attempt. Locally a failure is reported at once.
    retry: Number(process.env.PAGEWISE_TEST_RETRY ?? 0),
    // Tests load what was just compiled; the arm64 run (scripts/arm64-test.sh)
    // sets PAGEWISE_FROM_SOURCE=0 to load prebuilds/linux-arm64 instead.
    env: { PAGEWISE_FROM_SOURCE: process.env.PAGEWISE_FROM_SOURCE ?? '1' },
  },
});
