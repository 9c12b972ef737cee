/** `getrusage` for this thread, the process, or reaped children. */
import { native } from '../native/binding';
import { checkFloat64Out } from '../validate';
import { invalidValue } from '../errors';

const C = native.constants;

/** A `getrusage` snapshot. Times in microseconds, `maxRss` in bytes. */
export interface Rusage {
  minorFaults: number;
  majorFaults: number;
  userMicros: number;
  systemMicros: number;
  maxRss: number;
  voluntarySwitches: number;
  involuntarySwitches: number;
  blockInputs: number;
}

/** Which usage to read: `'thread'` (RUSAGE_THREAD, the calling thread only), `'process'` (RUSAGE_SELF, every thread), `'children'`. */
export type RusageWho = 'thread' | 'process' | 'children';

const scratch = new Float64Array(8);

/** @internal Fast path: fills and returns a shared scratch array [minflt, majflt, ...]. */
export function rusageRaw(who: number): Float64Array {
  native.getrusage(who, scratch);
  return scratch;
}

/** @internal */
export function whoNumber(who: unknown): number {
  switch (who) {
    case 'thread': return C.RUSAGE_THREAD;
    case 'process': return C.RUSAGE_SELF;
    case 'children': return C.RUSAGE_CHILDREN;
    default: throw invalidValue('who', "must be 'thread', 'process' or 'children'", who);
  }
}

/**
 * `getrusage(who)`. Default `'thread'`. With `out` (a `Float64Array` of at
 * least 8 elements) the figures are written into it, in the order and units
 * of {@link Rusage}'s fields (`[minorFaults, majorFaults, userMicros,
 * systemMicros, maxRss, voluntarySwitches, involuntarySwitches,
 * blockInputs]`, `maxRss` in bytes), and it is returned: no object is made.
 */
export function getrusage(who?: RusageWho): Rusage;
export function getrusage(who: RusageWho | undefined, out: Float64Array): Float64Array;
export function getrusage(who: RusageWho = 'thread', out?: Float64Array): Rusage | Float64Array {
  const w = whoNumber(who);
  if (out !== undefined) {
    native.getrusage(w, checkFloat64Out('out', out, 8));
    out[4] = out[4]! * 1024;
    return out;
  }
  const a = rusageRaw(w);
  return {
    minorFaults: a[0]!,
    majorFaults: a[1]!,
    userMicros: a[2]!,
    systemMicros: a[3]!,
    maxRss: a[4]! * 1024,
    voluntarySwitches: a[5]!,
    involuntarySwitches: a[6]!,
    blockInputs: a[7]!,
  };
}
