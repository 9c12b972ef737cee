import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native memory tests count faults on the calling thread: run files in
    // forked processes (one thread each), not worker threads.
    pool: 'forks',
    // One fork per core (vitest's default leaves one core free: on 2 cores the
    // suite ran file after file). The tests hold under load by design; the
    // ASan stage (scripts/asan.sh) runs one fork (PAGEWISE_TEST_WORKERS=1).
    maxWorkers: Number(process.env.PAGEWISE_TEST_WORKERS ?? availableParallelism()),
    // ArrayBuffer.prototype.transfer() is on by default from Node 21; on Node
    // 20 the flag turns it on, so the never-crash tests (and the property
    // test's 'transfer' operation) run on every Node this package supports.
    execArgv: Number(process.versions.node.split('.')[0]) < 21 ? ['--harmony-rab-gsab-transfer'] : [],
    // A hang guard, not a time limit: the slowest test takes about 15 s on
    // an idle 2-core VM and up to 160 s at load 5 beside a second suite, so
    // 30 minutes (HANG_GUARD_MS of test/helpers/child.ts) only ever stops a
    // test that hangs; a slow machine shows up as a slow run.
    // scripts/arm64-test.sh sets its own for the quick set under qemu-user.
    testTimeout: Number(process.env.PAGEWISE_TEST_TIMEOUT_MS ?? 30 * 60_000),
    hookTimeout: Number(process.env.PAGEWISE_TEST_TIMEOUT_MS ?? 30 * 60_000),
    // No retries: a test that needs luck is a bug in the test. Where V8 can
    // add a fault of its own to a count, the test takes the fewest of a few
    // trials inside itself or counts from the region, never a retry around it.
    // Tests load what was just compiled; the arm64 run (scripts/arm64-test.sh)
    // sets PAGEWISE_FROM_SOURCE=0 to load prebuilds/linux-arm64 instead.
    env: { PAGEWISE_FROM_SOURCE: process.env.PAGEWISE_FROM_SOURCE ?? '1' },
  },
});
