/**
 * `benchMemory(fn)`: a user's function run several times after a warm-up,
 * each run measured by {@link measureSync} (thread faults, exact RSS,
 * residency of given mappings, time), reported as median, min and max.
 */
import type { Mapping } from '../mapping';
import { checkSyncFunction, measureSync } from '../measure/measure';
import { pageSize } from '../kernel/system';
import { checkInteger, checkOptions } from '../validate';
import { invalidType } from '../errors';
import { summarize, type Stats } from './harness';

/** Options of {@link benchMemory}. */
export interface BenchMemoryOptions {
  /** Measured runs (default 10). */
  runs?: number;
  /** Runs before measuring, not recorded (default 1). */
  warmup?: number;
  /** Mappings whose residency is measured before and after each run. */
  mappings?: Mapping[];
  /**
   * Pages `fn` works on, for the per-page figures. Default: the residency
   * delta of `mappings` when given, else the exact RSS delta, of each run.
   */
  pages?: number;
  /** Runs before each run, outside the measurement (e.g. give the pages back). */
  setup?: () => void;
  /** Runs after each run, outside the measurement. */
  teardown?: () => void;
}

/** What {@link benchMemory} found, each figure over the measured runs. */
export interface BenchMemoryResult {
  runs: number;
  /** Wall-clock nanoseconds of `fn`. */
  timeNs: Stats;
  /** Minor faults of the calling thread (`getrusage(RUSAGE_THREAD)`). */
  threadFaults: Stats;
  /** Exact RSS change in bytes (`smaps_rollup`, the whole process). */
  rssDeltaBytes: Stats;
  /** Residency change in pages, one entry per mapping of `options.mappings`. */
  residencyDeltaPages: Stats[];
  /**
   * The per-page divisor and where it came from; `null` when a run's divisor
   * was not positive (`fn` touched no page of `mappings`, or without them the
   * process RSS did not grow: a GC gave back more): `notes` then says which
   * runs and why.
   */
  pages: { count: Stats; source: 'options.pages' | 'residency' | 'rss' } | null;
  /** Nanoseconds per page (`null` when {@link BenchMemoryResult.pages} is). */
  nsPerPage: Stats | null;
  /** Thread faults per page (`null` when {@link BenchMemoryResult.pages} is). */
  faultsPerPage: Stats | null;
  /** How to read the numbers. */
  notes: string[];
}

function checkFn(name: string, v: unknown): (() => void) | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw invalidType(name, 'of type function', v);
  return v as () => void;
}

/**
 * Runs `fn` `options.warmup` times, then `options.runs` times measured, and
 * reports time, ns per page, thread faults per page, the exact RSS delta and
 * the residency delta, each as median, min and max. `fn` must be synchronous
 * (its thread faults are counted on the calling thread); for async code use
 * `measure()` from `pagewise`.
 *
 * @example
 * const m = mmap(256 * pageSize(), { noReserve: true });
 * const r = benchMemory(() => m.view().fill(1), { mappings: [m], setup: () => m.advise('dontneed') });
 * r.faultsPerPage?.min; // 1: one fault per page without THP (a run where V8 faulted on this thread too counts more)
 */
export function benchMemory(fn: () => unknown, options?: BenchMemoryOptions): BenchMemoryResult {
  checkSyncFunction('fn', fn, "measure() from 'pagewise' around each run");
  const o = checkOptions<BenchMemoryOptions>('options', options, ['runs', 'warmup', 'mappings', 'pages', 'setup', 'teardown']);
  const runs = o.runs === undefined ? 10 : checkInteger('options.runs', o.runs, 1, 100000);
  const warmup = o.warmup === undefined ? 1 : checkInteger('options.warmup', o.warmup, 0, 100000);
  const fixedPages = o.pages === undefined ? undefined : checkInteger('options.pages', o.pages, 1);
  const setup = checkFn('options.setup', o.setup);
  const teardown = checkFn('options.teardown', o.teardown);
  const mappings = o.mappings;
  const page = pageSize();
  const time: number[] = [];
  const faults: number[] = [];
  const rssDelta: number[] = [];
  const res: number[][] = [];
  const pages: number[] = [];
  for (let i = -warmup; i < runs; i++) {
    setup?.();
    const m = measureSync(fn, mappings ? { mappings } : undefined);
    teardown?.();
    if (i < 0) continue;
    time.push(m.timeNs);
    faults.push(m.threadFaults.minor + m.threadFaults.major);
    rssDelta.push(m.rss.exactDelta);
    m.residency.forEach((r, k) => (res[k] ??= []).push(r.pages));
    pages.push(fixedPages ?? (m.residency.length ? m.residency.reduce((s, r) => s + r.pages, 0) : m.rss.exactDelta / page));
  }
  const source = fixedPages !== undefined ? 'options.pages' : mappings && mappings.length ? 'residency' : 'rss';
  const havePages = pages.every((p) => p > 0);
  const notes = [
    'per-page figures divide each run by its own page count, then summarize',
    'rssDeltaBytes: smaps_rollup of the whole process (other threads may add or free memory meanwhile)',
    'threadFaults: getrusage(RUSAGE_THREAD), this thread only, minor + major',
  ];
  if (!havePages) {
    const bad = pages.map((p, r) => ({ p, r })).filter((x) => !(x.p > 0));
    const shown = bad.slice(0, 3).map((x) => `run ${x.r + 1}: ${x.p} pages`).join(', ');
    const why =
      source === 'residency'
        ? 'the residency of options.mappings did not grow in every run'
        : 'the exact RSS of the whole process did not grow in every run (a garbage collection or another thread can give back more than fn took, which makes the delta 0 or negative)';
    notes.push(
      `pages, nsPerPage and faultsPerPage are null: ${why} (${shown}${bad.length > 3 ? `, and ${bad.length - 3} more` : ''}); ` +
        'pass options.pages (the pages fn works on) or options.mappings (the mappings it touches) for figures per page',
    );
  }
  const perPage = (xs: number[]): Stats | null => (havePages ? summarize(xs.map((x, r) => x / pages[r]!)) : null);
  return {
    runs,
    timeNs: summarize(time),
    threadFaults: summarize(faults),
    rssDeltaBytes: summarize(rssDelta),
    residencyDeltaPages: res.map((r) => summarize(r)),
    pages: havePages ? { count: summarize(pages), source } : null,
    nsPerPage: perPage(time),
    faultsPerPage: perPage(faults),
    notes,
  };
}
