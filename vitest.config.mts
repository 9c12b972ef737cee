import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native memory tests count faults on the calling thread: run files in
    // forked processes (one thread each), not worker threads.
    pool: 'forks',
    // ArrayBuffer.prototype.transfer() is on by default from Node 21; on Node
    // 20 the flag turns it on, so the never-crash tests (and the property
    // test's 'transfer' operation) run on every Node this package supports.
    execArgv: Number(process.versions.node.split('.')[0]) < 21 ? ['--harmony-rab-gsab-transfer'] : [],
    // A hang guard, not a time limit: the slowest test takes about 10 s on
    // an idle 2-core VM and several times that at load average 8, so 10
    // minutes only ever stops a test that hangs; a slow machine shows up as
    // a slow run. scripts/arm64-test.sh raises it further for qemu-user
    // (every instruction emulated: ~10-30x slower).
    testTimeout: Number(process.env.PAGEWISE_TEST_TIMEOUT_MS ?? 600_000),
    hookTimeout: Number(process.env.PAGEWISE_TEST_TIMEOUT_MS ?? 600_000),
    // No retries: a test that needs luck is a bug in the test. Where V8 can
    // add a fault of its own to a count, the test takes the fewest of a few
    // trials inside itself or counts from the region, never a retry around it.
    // Tests load what was just compiled; the arm64 run (scripts/arm64-test.sh)
    // sets PAGEWISE_FROM_SOURCE=0 to load prebuilds/linux-arm64 instead.
    env: { PAGEWISE_FROM_SOURCE: process.env.PAGEWISE_FROM_SOURCE ?? '1' },
  },
});
