/**
 * The C baseline loops of the benchmarks: the lab binary's cbench* functions
 * over a Mapping's range (lib/native/lab.ts, native/lab/cbench.cc). Each
 * returns the total nanoseconds of its loop, timed with CLOCK_MONOTONIC in C
 * around the loop only. `cbenchLastValue()` returns what the last loop
 * computed. A missing lab binary makes only these baselines throw
 * (ERR_PAGEWISE_NO_LAB_BINARY).
 * @internal
 */
import { lab } from '../native/lab';
import { native } from '../native/binding';

/** @internal */
export type CBench = Omit<typeof lab, 'cowProbe' | 'unmapRemap'>;

/** @internal */
export const cbench: CBench = lab;

/** @internal The platform's constants. */
export const C = native.constants;
