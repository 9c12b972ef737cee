/**
 * Property: no sequence of safe API calls, with valid or hostile arguments,
 * crashes the process, throws anything but a TypeError, a RangeError or a
 * system error with code/errno/syscall, or lets the model of what exists
 * drift from the kernel (/proc/self/maps, mincore, bytes written).
 *
 * CI runs a fixed seed, bounded. `npm run soak` runs the same property for a
 * long time with a random seed (PAGEWISE_SOAK_SECONDS, PAGEWISE_SEED) and
 * prints the seed on failure; fast-check prints the shrunk counterexample.
 */
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { unmeasurable } from './helpers/emulation';
import { World, addTally, newTally, opArb, scratchDir, thpMayWiden, type Op } from './helpers/model';
import { HANG_GUARD_MS } from './helpers/child';

const soakSeconds = Number(process.env.PAGEWISE_SOAK_SECONDS ?? 0);
const seed = process.env.PAGEWISE_SEED !== undefined ? Number(process.env.PAGEWISE_SEED) : soakSeconds > 0 ? (Date.now() ^ (process.pid << 8)) >>> 0 : 20261124;
const dir = scratchDir();
// AddressSanitizer (npm run test:asan) makes mlock() a no-op: residency is then not modelled.
const exact = !thpMayWiden() && !process.env.PAGEWISE_ASAN;
const total = newTally();
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  // One line the README's figures come from (and the soak run repeats).
  console.log(`reliability-property: seed ${seed}, ${JSON.stringify(total)}`);
  if (process.env.PAGEWISE_TALLY_FILE) fs.writeFileSync(process.env.PAGEWISE_TALLY_FILE, JSON.stringify({ seed, ...total }));
});

function runSequence(ops: Op[]): void {
  const world = new World(dir, exact);
  try {
    for (const op of ops) {
      world.apply(op);
      world.check();
    }
  } finally {
    try {
      world.dispose();
    } finally {
      addTally(total, world.tally);
    }
  }
}

describe('random sequences of safe API calls', () => {
  // The model is the kernel's semantics: every step is compared with mincore
  // (also over PROT_NONE), madvise's effects, MAP_POPULATE and mlock2. Where
  // one of them is not the kernel's (qemu-user 7.2 drops madvise, lacks
  // mlock2, refuses mincore on PROT_NONE), the comparison cannot be made.
  it.skipIf(unmeasurable(['mincore', 'mincoreProtNone', 'dontneedZeroes', 'mapPopulate', 'adviceFlags', 'mlock2'], 'random sequences compared with the kernel'))(`agree with the kernel after every step (seed ${seed})`, () => {
    if (!exact) console.log('residency compared only where THP cannot widen a fault: THP (or a multi-size THP) is set to always');
    const deadline = soakSeconds > 0 ? Date.now() + soakSeconds * 1000 : 0;
    const numRuns = Number(process.env.PAGEWISE_RUNS ?? (soakSeconds > 0 ? 1_000_000_000 : 600));
    try {
      fc.assert(
        fc.property(fc.array(opArb(), { minLength: 1, maxLength: 80, size: 'max' }), (ops) => {
          if (deadline && Date.now() > deadline) return; // soak time is up (the runner stops at the next run)
          runSequence(ops);
        }),
        // A soak ends when its time is up: fast-check stops drawing new
        // sequences then (drawing the rest of a billion runs, even as no-ops,
        // would never end) and counts the interrupted run as a success.
        { seed, numRuns, endOnFailure: soakSeconds > 0, ...(deadline ? { interruptAfterTimeLimit: soakSeconds * 1000 } : {}) },
      );
    } catch (err) {
      console.error(`reliability-property FAILED with seed ${seed} (rerun: PAGEWISE_SEED=${seed} npx vitest run test/reliability-property.test.ts)`);
      throw err;
    }
    expect(total.crashes).toBe(0);
    expect(total.bytesLost).toBe(0);
    expect(total.operations).toBeGreaterThan(0);
  }, soakSeconds > 0 ? (soakSeconds + 600) * 1000 : HANG_GUARD_MS); // a hang guard: 600 runs took 159 s at load 5 beside another suite
});
