/**
 * `measure(fn)`: runs a function and reports what it cost in page faults,
 * resident memory and time, each number with its source.
 */
import { native } from '../native/binding';
import { rusageRaw } from '../process/rusage';
import { asMapping, type Mapping } from '../mapping';
import { pageSize } from '../kernel/system';
import { checkOptions } from '../validate';
import { invalidType } from '../errors';
import { perfRaw, perfUnavailable } from './faults';
import { residency, type Residency } from './residency';

const C = native.constants;

/** Options of {@link measure}. */
export interface MeasureOptions {
  /** Mappings whose residency is measured before and after (by {@link residency}, source `'auto'`). */
  mappings?: Mapping[];
}

/** The change in one mapping's residency: every count is after minus before (`null` where the source cannot tell). */
export type ResidencyDelta = Residency;

/** What {@link measure} found. */
export interface Measurement<T> {
  /** What `fn` returned (awaited). */
  result: T;
  /** Faults of the calling thread, `getrusage(RUSAGE_THREAD)` after minus before. */
  threadFaults: { minor: number; major: number };
  /** Faults of every thread of the process, `getrusage(RUSAGE_SELF)`. */
  processFaults: { minor: number; major: number };
  /** perf software events of the calling thread, or why they are unavailable. */
  perfFaults: { minor: number; major: number } | { unavailable: string };
  /**
   * RSS change in bytes: `fastDelta` from `statm` (approximate counters),
   * `exactDelta` from `smaps_rollup` (page-table walk; every thread's memory).
   */
  rss: { fastDelta: number; exactDelta: number; fastBefore: number; fastAfter: number; exactBefore: number; exactAfter: number };
  /** One delta per mapping of `options.mappings`, in order. */
  residency: ResidencyDelta[];
  /** Wall-clock time of `fn` (plus two getrusage calls), nanoseconds, CLOCK_MONOTONIC. */
  timeNs: number;
  /** What to keep in mind when reading the numbers. */
  notes: string[];
}

interface Snap {
  tMinor: number; tMajor: number; pMinor: number; pMajor: number; perfMinor: number; perfMajor: number;
  fast: number; exact: number; res: Residency[]; sec: number; nsec: number;
}

const clock = new Float64Array(2);

function mappingsOf(options: MeasureOptions | undefined): Mapping[] {
  const o = checkOptions<MeasureOptions>('options', options, ['mappings']);
  if (o.mappings === undefined) return [];
  if (!Array.isArray(o.mappings)) throw invalidType('options.mappings', 'an array of Mapping', o.mappings);
  return o.mappings.map((m) => asMapping(m));
}

// The snapshots read into preallocated arrays and native static buffers, so
// taking one allocates no JS heap pages and faults nothing of its own once
// warm. The thread rusage is read last before `fn` and first after it, so the
// thread-fault window holds `fn` alone.
function before(maps: Mapping[]): Snap {
  // RUSAGE_SELF brackets every other reading, so a fault of another thread
  // that could move the process-wide RSS shows in processFaults.
  let r = rusageRaw(C.RUSAGE_SELF);
  const pMinor = r[0]!;
  const pMajor = r[1]!;
  const res = maps.map((m) => residency(m));
  const exact = native.smapsRollupRss();
  const fast = native.statmResident() * pageSize();
  const perf = perfRaw();
  const perfMinor = perf ? perf[0]! : 0;
  const perfMajor = perf ? perf[1]! : 0;
  r = rusageRaw(C.RUSAGE_THREAD);
  const tMinor = r[0]!;
  const tMajor = r[1]!;
  native.clockMonotonic(clock);
  return { tMinor, tMajor, pMinor, pMajor, perfMinor, perfMajor, fast, exact, res, sec: clock[0]!, nsec: clock[1]! };
}

function after(maps: Mapping[]): Snap {
  native.clockMonotonic(clock);
  const sec = clock[0]!;
  const nsec = clock[1]!;
  let r = rusageRaw(C.RUSAGE_THREAD);
  const tMinor = r[0]!;
  const tMajor = r[1]!;
  const perf = perfRaw();
  const perfMinor = perf ? perf[0]! : 0;
  const perfMajor = perf ? perf[1]! : 0;
  const fast = native.statmResident() * pageSize();
  const exact = native.smapsRollupRss();
  const res = maps.map((m) => residency(m));
  r = rusageRaw(C.RUSAGE_SELF);
  return { tMinor, tMajor, pMinor: r[0]!, pMajor: r[1]!, perfMinor, perfMajor, fast, exact, res, sec, nsec };
}

function delta(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : b - a;
}

function report<T>(result: T, s0: Snap, s1: Snap, notes: string[]): Measurement<T> {
  const unavailable = perfUnavailable();
  return {
    result,
    threadFaults: { minor: s1.tMinor - s0.tMinor, major: s1.tMajor - s0.tMajor },
    processFaults: { minor: s1.pMinor - s0.pMinor, major: s1.pMajor - s0.pMajor },
    perfFaults: unavailable ? { unavailable } : { minor: s1.perfMinor - s0.perfMinor, major: s1.perfMajor - s0.perfMajor },
    rss: { fastDelta: s1.fast - s0.fast, exactDelta: s1.exact - s0.exact, fastBefore: s0.fast, fastAfter: s1.fast, exactBefore: s0.exact, exactAfter: s1.exact },
    residency: s1.res.map((r1, i) => {
      const r0 = s0.res[i]!;
      return {
        pages: r1.pages - r0.pages, bytes: r1.bytes - r0.bytes, source: r1.source, exact: true,
        fallback: r1.fallback, counts: r1.counts, present: r1.present - r0.present, swapped: delta(r0.swapped, r1.swapped),
        exclusive: delta(r0.exclusive, r1.exclusive), softDirty: delta(r0.softDirty, r1.softDirty),
        fileOrShared: delta(r0.fileOrShared, r1.fileOrShared), zeroPage: delta(r0.zeroPage, r1.zeroPage), guard: delta(r0.guard, r1.guard),
      };
    }),
    timeNs: (s1.sec - s0.sec) * 1e9 + (s1.nsec - s0.nsec),
    notes,
  };
}

const BASE_NOTES = [
  'threadFaults: getrusage(RUSAGE_THREAD) on the calling thread; exact for what ran on it',
  'processFaults: getrusage(RUSAGE_SELF), every thread (V8 GC and compiler threads, libuv workers) may add faults',
  'perfFaults: perf does not count faults taken by MADV_POPULATE_* or MAP_POPULATE; getrusage does',
  'rss.fastDelta: statm counters, approximate (per-CPU batching); rss.exactDelta: smaps_rollup page-table walk of the whole process',
];

let warm = false;
function warmUp(maps: Mapping[]): void {
  // First calls compile code, open the kept descriptors and touch the
  // static buffers: do that outside any measured window.
  if (warm) return;
  report(undefined, before(maps), after(maps), []);
  warm = true;
}

const isThenable = (x: unknown): boolean =>
  x instanceof Promise || (((typeof x === 'object' && x !== null) || typeof x === 'function') && typeof (x as { then?: unknown }).then === 'function');

/**
 * @internal Refuses an async function where a synchronous one is measured:
 * its work would run after the measured window closed, so every count would
 * silently read 0. Checked before anything runs (an `async function` is
 * recognised by its tag); a plain function that returns a promise is refused
 * once it returns ({@link checkSyncResult}).
 */
export function checkSyncFunction(name: string, fn: unknown, alternative: string): asserts fn is () => unknown {
  if (typeof fn !== 'function') throw invalidType(name, 'of type function', fn);
  const tag = Object.prototype.toString.call(fn);
  if (tag === '[object AsyncFunction]' || tag === '[object AsyncGeneratorFunction]') {
    throw invalidType(name, `a synchronous function (its work would finish after the measurement ends; use ${alternative})`, fn);
  }
}

/** @internal See {@link checkSyncFunction}: a synchronous function that returned a promise. */
export function checkSyncResult(name: string, result: unknown, alternative: string): void {
  if (isThenable(result)) {
    throw invalidType(name, `a synchronous function, not one that returns a promise (its work finishes after the measurement ends; use ${alternative})`, result);
  }
}

/**
 * Runs `fn` synchronously and measures it. See {@link measure}.
 *
 * `fn` must be synchronous: an `async` function, or one that returns a
 * promise, throws a `TypeError` (`ERR_INVALID_ARG_TYPE`), as its work would
 * fall outside the measured window; use {@link measure} for those.
 */
export function measureSync<T>(fn: () => T, options?: MeasureOptions): Measurement<T> {
  checkSyncFunction('fn', fn, 'measure()');
  const maps = mappingsOf(options);
  warmUp(maps);
  const s0 = before(maps);
  const result = fn();
  const s1 = after(maps);
  checkSyncResult('fn', result, 'measure()');
  return report(result, s0, s1, [...BASE_NOTES]);
}

/**
 * Runs `fn` (sync or async) and returns its result with the deltas of
 * thread faults, process faults, perf fault events, RSS (fast and exact),
 * the residency of `options.mappings`, and the time taken.
 *
 * For an async `fn` the thread's numbers include whatever else the event
 * loop ran while `fn` was pending: the notes say so.
 *
 * @example
 * const m = mmap(64 * pageSize());
 * m.advise('nohugepage');
 * const r = await measure(() => m.view().fill(1), { mappings: [m] });
 * r.residency[0].pages; // 64, exactly: the mapping's own page tables
 * r.threadFaults.minor; // 64, or a few more when V8 touched a fresh page of its own on this thread meanwhile
 */
export async function measure<T>(fn: () => T | Promise<T>, options?: MeasureOptions): Promise<Measurement<T>> {
  if (typeof fn !== 'function') throw invalidType('fn', 'of type function', fn);
  const maps = mappingsOf(options);
  warmUp(maps);
  const s0 = before(maps);
  const out = fn();
  const isAsync = isThenable(out);
  const result = await out;
  const s1 = after(maps);
  const notes = [...BASE_NOTES];
  if (isAsync) {
    notes.push(
      'fn was async: other work of this thread\'s event loop may have run while it was pending, and its faults are in threadFaults; ' +
        'work on other threads (worker pool, GC) shows only in processFaults and RSS',
    );
  }
  return report(result, s0, s1, notes);
}
