/**
 * What the metrics read, and how often: one sample serves every gauge of a
 * scrape, and a scrape within `minIntervalMs` of the end of the last reading gets the
 * same figures again, so a fast scraper cannot make the process walk its page
 * tables in a loop. The cheap sources first: `statm` (counters, no walk) on
 * every reading; `smaps_rollup` (one walk under the process's `mmap_lock`)
 * only with `pss`; the full `smaps` of `explain()` (a walk per mapping, and
 * parsing) only for categories, on its own, longer interval.
 */
import { performance } from 'node:perf_hooks';
import { liveArenas } from '../arena/live';
import { explain } from '../explain';
import type { ExplainSnapshot } from '../explain';
import { native } from '../native/binding';
import { readSmapsRollup } from '../kernel/smaps-rollup';
import { readStatus } from '../kernel/status';
import { statmIsExact } from '../measure/memory-usage';
import { pageSize } from '../kernel/system';
import { checkBoolean, checkInteger, checkOptions } from '../validate';
import { outOfRange } from '../errors';

/** Options of `registerPrometheus` and `registerOpenTelemetry`. */
export interface MetricsOptions {
  /** Scrapes within this many ms of the last reading report it again. Default 5000; 0 reads on every scrape. */
  minIntervalMs?: number;
  /** Read `smaps_rollup` for `pagewise_process_pss_bytes` (and `swap` from it). Default true; false: no PSS gauge, swap from `status`. */
  pss?: boolean;
  /** Report `pagewise_memory_bytes{category}` from `explain()` (a full `smaps` read). Default true. */
  categories?: boolean;
  /** Minimum ms between two `explain()` walks; at least `minIntervalMs`. Default 60000. */
  categoriesIntervalMs?: number;
  /** One `category` series per loaded object's code and data (`code:/usr/lib/.../libc.so.6`) instead of one `code` and one `object-data`. Default false. */
  libraries?: boolean;
  /** Report `pagewise_arena_*{arena}` for this thread's open arenas. Default true. */
  arenas?: boolean;
  /** At most this many `arena` label values; arenas past them are summed under `arena="other"`. Default 16. */
  maxArenaSeries?: number;
}

/** Options with every default filled in. @internal */
export interface ResolvedMetricsOptions {
  minIntervalMs: number;
  pss: boolean;
  categories: boolean;
  categoriesIntervalMs: number;
  libraries: boolean;
  arenas: boolean;
  maxArenaSeries: number;
}

const KEYS = ['minIntervalMs', 'pss', 'categories', 'categoriesIntervalMs', 'libraries', 'arenas', 'maxArenaSeries'] as const;

/** @internal Checks `options` (TypeError/RangeError before anything is read or registered). */
export function resolveMetricsOptions(options: unknown): ResolvedMetricsOptions {
  const o = options === undefined ? {} : checkOptions<MetricsOptions>('options', options, KEYS);
  const minIntervalMs = o.minIntervalMs === undefined ? 5000 : checkInteger('options.minIntervalMs', o.minIntervalMs, 0, 2 ** 31 - 1);
  const categoriesIntervalMs = o.categoriesIntervalMs === undefined ? Math.max(60_000, minIntervalMs) : checkInteger('options.categoriesIntervalMs', o.categoriesIntervalMs, 0, 2 ** 31 - 1);
  if (categoriesIntervalMs < minIntervalMs) throw outOfRange('options.categoriesIntervalMs', `>= options.minIntervalMs (${minIntervalMs})`, categoriesIntervalMs);
  return {
    minIntervalMs,
    pss: o.pss === undefined ? true : checkBoolean('options.pss', o.pss),
    categories: o.categories === undefined ? true : checkBoolean('options.categories', o.categories),
    categoriesIntervalMs,
    libraries: o.libraries === undefined ? false : checkBoolean('options.libraries', o.libraries),
    arenas: o.arenas === undefined ? true : checkBoolean('options.arenas', o.arenas),
    maxArenaSeries: o.maxArenaSeries === undefined ? 16 : checkInteger('options.maxArenaSeries', o.maxArenaSeries, 1, 1000),
  };
}

/** One arena series' figures, bytes. */
export interface ArenaFigures {
  committed: number;
  allocated: number;
  retained: number;
  resident: number;
}

/** What one reading holds. All sizes in bytes. @internal */
export interface MetricsSample {
  /** Resident set: from `statm` where it is exact (Linux 6.16+), else from `smaps_rollup` when read, else `statm` (an estimate). */
  resident: { bytes: number; source: 'statm' | 'smaps_rollup' };
  /** smaps_rollup `Pss`, or null with `pss: false`. */
  pss: number | null;
  /** smaps_rollup `Swap`, or status `VmSwap` with `pss: false` (null where absent). */
  swap: number | null;
  /** Resident bytes per category label (from the last `explain()` walk), or null with `categories: false`. */
  categories: Map<string, number> | null;
  /** smaps `Rss` summed over every mapping at the categories' walk (what they add up to), or null. */
  categoriesRss: number | null;
  /** Per arena label. */
  arenas: Map<string, ArenaFigures>;
  /**
   * When this reading was complete, and when the categories' walk began, `performance.now()` ms.
   * `minIntervalMs` counts from `at`: a reading that takes longer than the interval (a large
   * process, a loaded machine) still serves the scrapes that follow it at once.
   */
  at: number;
  categoriesAt: number | null;
  /** Milliseconds each source took in this reading (a source not read: absent). */
  costMs: { statm?: number; smapsRollup?: number; status?: number; explain?: number; arenas?: number };
}

/** The `category` label of an explain category: its kind, or with `libraries` the id of a loaded object's code or data. */
export function categoryLabel(c: ExplainSnapshot['categories'][number], libraries: boolean): string {
  return libraries && (c.kind === 'code' || c.kind === 'object-data') ? c.id : c.kind;
}

/** Sums a snapshot's categories by label: one series per category kind (14 at most), or per loaded object with `libraries`. */
export function foldCategories(snap: ExplainSnapshot, libraries: boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of snap.categories) {
    const label = categoryLabel(c, libraries);
    out.set(label, (out.get(label) ?? 0) + c.rss);
  }
  return out;
}

/** Whether this kernel's statm is exact, read once. */
let exact: boolean | undefined;

/** @internal The readings of one registration. */
export class Sampler {
  readonly options: ResolvedMetricsOptions;
  #last: MetricsSample | null = null;
  #categories: Map<string, number> | null = null;
  #categoriesRss: number | null = null;
  #categoriesAt: number | null = null;
  /** Readings taken (not served from the cache), for tests and the benchmark. */
  readings = 0;
  walks = 0;

  constructor(options: ResolvedMetricsOptions) {
    this.options = options;
  }

  /** @internal The last reading, or null before the first scrape. */
  get last(): MetricsSample | null {
    return this.#last;
  }

  /** True from a reading until the event loop turns: every gauge of one scrape shares it, even with `minIntervalMs: 0`. */
  #sameTurn = false;

  /**
   * The current sample: the last one if it was taken in this turn of the
   * event loop (prom-client collects each gauge separately) or is younger
   * than `minIntervalMs`, else a new reading.
   */
  sample(): MetricsSample {
    const now = performance.now();
    if (this.#last !== null && (this.#sameTurn || now - this.#last.at < this.options.minIntervalMs)) return this.#last;
    const sample = this.readNow();
    this.#sameTurn = true;
    setImmediate(() => {
      this.#sameTurn = false;
    }).unref();
    return sample;
  }

  /** @internal A new reading now, whatever the intervals (categories still on their own interval); for the benchmark. */
  readNow(): MetricsSample {
    this.#last = this.#read(performance.now());
    return this.#last;
  }

  #read(now: number): MetricsSample {
    const o = this.options;
    const costMs: MetricsSample['costMs'] = {};
    this.readings++;
    let t = performance.now();
    const statm = native.statmResident() * pageSize();
    costMs.statm = performance.now() - t;
    let pss: number | null = null;
    let swap: number | null = null;
    let rollupRss: number | null = null;
    if (o.pss) {
      t = performance.now();
      const r = readSmapsRollup();
      costMs.smapsRollup = performance.now() - t;
      pss = r.pss;
      swap = r.swap;
      rollupRss = r.rss;
    } else {
      t = performance.now();
      swap = readStatus().vmSwap;
      costMs.status = performance.now() - t;
    }
    exact ??= statmIsExact();
    const resident: MetricsSample['resident'] =
      exact || rollupRss === null ? { bytes: statm, source: 'statm' } : { bytes: rollupRss, source: 'smaps_rollup' };
    if (o.categories && (this.#categoriesAt === null || now - this.#categoriesAt >= o.categoriesIntervalMs)) {
      t = performance.now();
      const snap = explain({ rollup: false });
      this.#categories = foldCategories(snap, o.libraries);
      this.#categoriesRss = snap.totals.rss;
      costMs.explain = performance.now() - t;
      this.#categoriesAt = now;
      this.walks++;
    }
    const arenas = new Map<string, ArenaFigures>();
    if (o.arenas) {
      t = performance.now();
      for (const { arena, name } of liveArenas()) {
        const label = arenas.has(name) || arenas.size < o.maxArenaSeries ? name : 'other';
        const s = arena.stats();
        const sum = arenas.get(label) ?? { committed: 0, allocated: 0, retained: 0, resident: 0 };
        sum.committed += s.committed;
        sum.allocated += s.allocated;
        sum.retained += s.retained;
        sum.resident += s.resident;
        arenas.set(label, sum);
      }
      costMs.arenas = performance.now() - t;
    }
    return { resident, pss, swap, categories: this.#categories, categoriesRss: this.#categoriesRss, arenas, at: performance.now(), categoriesAt: this.#categoriesAt, costMs };
  }
}
