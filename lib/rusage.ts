/** `getrusage` for this thread, the process, or reaped children. */
import { native } from './native';
import { invalidValue } from './validate';

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

/** `getrusage(who)`. Default `'thread'`. */
export function getrusage(who: RusageWho = 'thread'): Rusage {
  const a = rusageRaw(whoNumber(who));
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
