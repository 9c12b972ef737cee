/** Page faults of this thread or this process: `getrusage`, plus perf software events where allowed. */
import { native } from '../native/binding';
import { rusageRaw } from '../process/rusage';
import { checkBoolean, checkFloat64Out, checkOptions, isFloat64Array } from '../validate';
import { invalidValue } from '../errors';
import { perfEventParanoid } from '../kernel/facts';

const C = native.constants;

/** Minor faults of the calling thread so far (getrusage RUSAGE_THREAD). */
export function threadFaults(): number {
  return rusageRaw(C.RUSAGE_THREAD)[0]!;
}

/** Options of {@link faults}. */
export interface FaultsOptions {
  /**
   * `'thread'` (default): `getrusage(RUSAGE_THREAD)`, the calling thread only
   * (V8's helper threads fault too, and would otherwise be counted).
   * `'process'`: `getrusage(RUSAGE_SELF)`, every thread.
   */
  scope?: 'thread' | 'process';
  /** Also read the perf counters (default `true`). */
  perf?: boolean;
}

/** Fault counts since the thread (or process) started. */
export interface Faults {
  /** Minor faults (no I/O: zero-fill, copy-on-write, page cache hits). */
  minor: number;
  /** Major faults (waited for I/O). */
  major: number;
  scope: 'thread' | 'process';
  source: 'getrusage';
  /**
   * `PERF_COUNT_SW_PAGE_FAULTS_MIN`/`_MAJ` for the calling thread, counted
   * from the first {@link faults} call on this thread; or why not. perf does
   * not count faults taken by the kernel on the process's behalf
   * (`MADV_POPULATE_*`, `MAP_POPULATE`), which getrusage does.
   */
  perf: { minor: number; major: number } | { unavailable: string };
}

let perfFds: [number, number] | null = null;
let perfWhy: string | null = null;
const perfOut = new Float64Array(2);

/** @internal Opens the perf counters for this thread once; returns false with the reason kept. */
export function perfReady(): boolean {
  if (perfFds) return true;
  if (perfWhy) return false;
  try {
    perfFds = native.perfFaultsOpen();
    return true;
  } catch (err) {
    const e = err as Error & { code?: string };
    perfWhy =
      `perf_event_open failed with ${e.code ?? e.message} (kernel.perf_event_paranoid=${perfEventParanoid()}; ` +
      'values above 2 forbid it unprivileged, and seccomp profiles of containers often block it)';
    return false;
  }
}

/** @internal Reads the perf counters of this thread into a shared array [minor, major], or null. */
export function perfRaw(): Float64Array | null {
  if (!perfReady()) return null;
  native.perfFaultsRead(perfFds![0], perfFds![1], perfOut);
  return perfOut;
}

/** @internal */
export function perfUnavailable(): string {
  perfReady();
  return perfWhy ?? '';
}

const faultsScratch = new Float64Array(4);

function checkScope(o: Partial<FaultsOptions>): 'thread' | 'process' {
  const scope = o.scope === undefined ? 'thread' : o.scope;
  if (scope !== 'thread' && scope !== 'process') throw invalidValue('options.scope', "must be 'thread' or 'process'", o.scope);
  return scope;
}

/**
 * Page faults so far. Take two and subtract: `getrusage(RUSAGE_THREAD)` on
 * the same thread before and after counts exactly the faults that thread
 * took, including those of `MADV_POPULATE_WRITE` and `MAP_POPULATE`.
 *
 * With `out` (a `Float64Array` of at least 2 elements, 4 with
 * `{ perf: true }`), the counts are written into it and it is returned: no
 * object is made, and the perf counters are read only when asked (the
 * source is `getrusage`): `out[0]` minor, `out[1]` major, and with
 * `perf: true` `out[2]`, `out[3]` the perf minor and major counts (`NaN`
 * where perf is unavailable or `scope` is `'process'`; {@link faults}'s
 * object form says why).
 */
export function faults(options?: FaultsOptions): Faults;
export function faults(out: Float64Array, options?: FaultsOptions): Float64Array;
export function faults(first?: FaultsOptions | Float64Array, second?: FaultsOptions): Faults | Float64Array {
  if (isFloat64Array(first)) {
    // The out form: one getrusage unless perf is asked for.
    const o = second === undefined ? undefined : checkOptions<FaultsOptions>('options', second, ['scope', 'perf']);
    const scope = o === undefined ? 'thread' : checkScope(o);
    const wantPerf = o === undefined || o.perf === undefined ? false : checkBoolean('options.perf', o.perf);
    const out = checkFloat64Out('out', first, wantPerf ? 4 : 2);
    const who = scope === 'thread' ? C.RUSAGE_THREAD : C.RUSAGE_SELF;
    if (!wantPerf) {
      native.faultsRead(who, out, -1, -1);
      return out;
    }
    const fds = scope === 'thread' && perfReady() ? perfFds! : null;
    native.faultsRead(who, out, fds ? fds[0] : -1, fds ? fds[1] : -1);
    if (!fds) out[2] = out[3] = NaN;
    return out;
  }
  const o = checkOptions<FaultsOptions>('options', first, ['scope', 'perf']);
  const scope = checkScope(o);
  const wantPerf = o.perf === undefined ? true : checkBoolean('options.perf', o.perf);
  // One native call: getrusage and, where asked and available, the two perf
  // counters, read in that order.
  const fds = wantPerf && scope === 'thread' && perfReady() ? perfFds! : null;
  const a = faultsScratch;
  native.faultsRead(scope === 'thread' ? C.RUSAGE_THREAD : C.RUSAGE_SELF, a, fds ? fds[0] : -1, fds ? fds[1] : -1);
  const minor = a[0]!;
  const major = a[1]!;
  let perf: Faults['perf'];
  if (!wantPerf) perf = { unavailable: 'not requested (options.perf: false)' };
  else if (scope === 'process') {
    perf = { unavailable: 'perf counters here count the calling thread only; a process-wide count needs one counter per thread' };
  } else perf = fds ? { minor: a[2]!, major: a[3]! } : { unavailable: perfWhy! };
  return { minor, major, scope, source: 'getrusage', perf };
}
