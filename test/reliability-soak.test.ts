/**
 * `npm run soak` runs the property of test/reliability-property.test.ts in
 * soak mode (PAGEWISE_SOAK_SECONDS, a random seed and up to a billion
 * sequences); it must end when its time is up. Here for 2 seconds, in a
 * vitest child, as the soak script runs it.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import { underEmulation } from './helpers/emulation';
import { HANG_GUARD_MS } from './helpers/child';

const nested = process.env.PAGEWISE_SOAK_SECONDS !== undefined;

describe('soak mode', () => {
  // Under qemu-user the property itself is skipped (its probes fail), and
  // under the sanitizer the child would need the runtime preloaded too.
  it.skipIf(nested || underEmulation().qemu || !!process.env.PAGEWISE_ASAN)('a 2-second soak of the property ends, passes and prints its seed and tally', () => {
    const seed = 4242;
    const env: NodeJS.ProcessEnv = { ...process.env, PAGEWISE_SOAK_SECONDS: '2', PAGEWISE_SEED: String(seed), PAGEWISE_TEST_RETRY: '0' };
    delete env.PAGEWISE_RUNS; // a fixed run count would end the soak early
    const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/reliability-property.test.ts'], {
      cwd: ROOT, encoding: 'utf8', timeout: 30 * 60_000 /* a hang guard, not a time limit */,
      env,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.signal, out.slice(-2000)).toBe(null);
    expect(r.status, out.slice(-2000)).toBe(0);
    const tally = new RegExp(`reliability-property: seed ${seed}, (\\{.*\\})`).exec(out);
    expect(tally, out.slice(-2000)).not.toBe(null);
    const t = JSON.parse(tally![1]!) as { operations: number; crashes: number; bytesLost: number };
    expect(t.operations).toBeGreaterThan(0);
    expect(t.crashes).toBe(0);
    expect(t.bytesLost).toBe(0);
  }, HANG_GUARD_MS); // a hang guard, not a time limit
});
