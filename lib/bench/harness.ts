/**
 * The benchmark harness: a benchmark is one subject (a pagewise call) and its
 * baselines (a C loop doing the same system calls, the Node built-in a user
 * would pick), all sampled in the same run, interleaved round by round so a
 * noisy machine's drift hits every contender alike. Ratios are taken pair by
 * pair (subject of round i over baseline of round i), then summarized.
 */
import { checkInteger, checkBoolean, checkOptions } from '../validate';
import { invalidValue } from '../errors';
import { gcCollector } from '../measure/gc';
import { trimMalloc } from '../process/malloc';

export { betweenSamples, gcCollector } from '../measure/gc';

/** Median, minimum and maximum of a set of samples. */
export interface Stats {
  median: number;
  min: number;
  max: number;
}

/**
 * What a baseline is: a C loop (the physical limit), a Node built-in, or the
 * N-API floor: the native function pagewise calls, called bare from a JS
 * loop (no validation, no objects), which shows how much of a gap to C is
 * the cost of crossing from JS into native code at all; or pagewise itself
 * with other settings (what a setting costs).
 */
export type BaselineKind = 'c' | 'node' | 'napi' | 'pagewise';

/** One contender of a benchmark. */
export interface Contender {
  /** Shown in tables: `'pagewise'`, `'C madvise'`, `'Buffer.alloc(65536)'`. */
  label: string;
  /** Runs one sample and returns nanoseconds per unit (see {@link Benchmark.unit}). */
  sample(): number;
}

/** A baseline contender. */
export interface Baseline extends Contender {
  kind: BaselineKind;
}

/** A target ratio of the subject to one baseline (subject / baseline). */
export interface Target {
  /** Label of the baseline it compares with. */
  baseline: string;
  /** The ratio must be at most this (e.g. 1.15: "within 1.15x of C"; 0.1: "10x faster"). */
  maxRatio: number;
}

/** A benchmark made ready to sample (memory mapped, state set up). */
export interface Prepared {
  subject: Contender;
  baselines: Baseline[];
  /** Releases what prepare() took. */
  close(): void;
  /** Facts worth printing beside the figures (e.g. why a baseline is missing). */
  notes?: string[];
}

/** Sizes a benchmark prepares for. */
export interface Scale {
  /** Tiny sizes and few iterations: for smoke tests, not for figures. */
  quick: boolean;
}

/** A named benchmark. */
export interface Benchmark {
  /** Unique name, used by `--only`. */
  name: string;
  /** Group: `'syscall'`, `'measure'`, `'arena'`, `'prefault'`, `'purge'`, `'maps'`. */
  group: string;
  /** What the subject does, in one line. */
  title: string;
  /** What one unit of the figures is: `'call'`, `'page'`, `'alloc+free'`. */
  unit: string;
  /** Targets this benchmark is held to. */
  targets?: Target[];
  /** Rounds to run by default (heavy benchmarks run fewer). */
  runs?: number;
  /** Sets the benchmark up; throws when it cannot run here. */
  prepare(scale: Scale): Prepared;
}

/** One baseline's figures and the subject's ratio to it. */
export interface BaselineResult {
  label: string;
  kind: BaselineKind;
  /** Nanoseconds per unit. */
  ns: Stats;
  /** Subject / baseline, computed round by round, then summarized. */
  ratio: Stats;
  /**
   * The distribution-free ~95% confidence interval of `ratio.median`
   * ({@link medianInterval} over the round-by-round ratios); `[min, max]`
   * with fewer than 6 rounds.
   */
  interval: [number, number];
}

/** The outcome of one target. */
export interface TargetResult extends Target {
  /** The median paired ratio. */
  ratio: number;
  /**
   * Whether the median ratio alone is within the target; `null` for a quick
   * run (one unwarmed round of tiny sizes: indicative, never judged). One
   * median is not a verdict: read {@link TargetResult.verdict}.
   */
  met: boolean | null;
  /**
   * A distribution-free confidence interval (about 95%) of the median paired
   * ratio: the order statistics of the round-by-round ratios that bound the
   * median with that probability ({@link medianInterval}); `[min, max]` with
   * fewer than 6 rounds.
   */
  interval: [number, number];
  /**
   * The statistical verdict: `'MET'` when the whole interval is within the
   * target, `'MISSED'` when it is entirely above it, `'UNDECIDED'` when it
   * spans the target (more rounds, or a quieter machine, may decide);
   * `null` for a quick run.
   */
  verdict: 'MET' | 'MISSED' | 'UNDECIDED' | null;
}

/** The result of one benchmark. */
export interface BenchResult {
  name: string;
  group: string;
  title: string;
  unit: string;
  /** Rounds measured (after the warm-up). */
  runs: number;
  subject: { label: string; ns: Stats };
  baselines: BaselineResult[];
  targets: TargetResult[];
  notes: string[];
  /** Set instead of figures when the benchmark could not run on this machine. */
  skipped?: string;
  /** `true` for a quick run (`quick: true`): the figures are indicative only and targets are not judged. */
  quick?: boolean;
}

/** Progress of a run, for a display. */
export interface Progress {
  benchmark: string;
  /** Index of the benchmark in this run, from 0, and how many there are. */
  index: number;
  total: number;
  /** Round being run (warm-up rounds are negative). */
  round: number;
  runs: number;
}

/** Options of {@link runBenchmarks}. */
export interface RunOptions {
  /** Only these benchmarks (names or groups). */
  only?: string[];
  /** Rounds per benchmark (default each benchmark's own, usually 15; 1 with quick). */
  runs?: number;
  /** Warm-up rounds, not recorded (default 2; 0 with quick). */
  warmup?: number;
  /** Tiny sizes, one round: a smoke test, not figures. */
  quick?: boolean;
  /** Called before each round. */
  onProgress?: (p: Progress) => void;
}

/** Median, min and max (the median of an even count is the mean of the middle two). */
export function summarize(samples: readonly number[]): Stats {
  if (samples.length === 0) return { median: NaN, min: NaN, max: NaN };
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/**
 * A distribution-free confidence interval of the median of `samples`: with
 * the samples sorted, `[x(j), x(n+1-j)]` (1-based) for the largest j whose
 * coverage `1 - 2 P(Binomial(n, 1/2) <= j - 1)` is still at least
 * `confidence` (default 0.95); `[min, max]` when even that falls short
 * (fewer than 6 samples at 0.95). NaNs for no samples.
 */
export function medianInterval(samples: readonly number[], confidence = 0.95): [number, number] {
  const n = samples.length;
  if (n === 0) return [NaN, NaN];
  const s = [...samples].sort((a, b) => a - b);
  // P(X <= k) for X ~ Binomial(n, 1/2), summed term by term.
  let term = 0.5 ** n; // P(X = 0)
  let cdf = term;
  let j = 1;
  for (let k = 1; k < n >> 1; k++) {
    // cdf = P(X <= k - 1) here: j = k keeps coverage 1 - 2 cdf.
    if (1 - 2 * cdf < confidence) break;
    j = k;
    term = (term * (n - k + 1)) / k;
    cdf += term;
  }
  if (1 - 2 * 0.5 ** n < confidence) j = 1;
  return [s[j - 1]!, s[n - j]!];
}

/**
 * The verdict of an interval of a ratio against a target `maxRatio` (lower is
 * better): `'MET'` when the whole interval is at or below it, `'MISSED'` when
 * the whole interval is above it, `'UNDECIDED'` when it spans it (or is NaN).
 */
export function judge(interval: readonly [number, number], maxRatio: number): 'MET' | 'MISSED' | 'UNDECIDED' {
  if (interval[1] <= maxRatio) return 'MET';
  if (interval[0] > maxRatio) return 'MISSED';
  return 'UNDECIDED';
}

/** Nanoseconds per iteration of `fn`, run `iterations` times back to back. */
export function timeLoop(iterations: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - t0) / iterations;
}

/** Nanoseconds of one call of `fn`. */
export function timeOnce(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0);
}

const DEFAULT_RUNS = 15;
const DEFAULT_WARMUP = 2;

function checkRunOptions(options: unknown): Required<Omit<RunOptions, 'only' | 'onProgress' | 'runs'>> & RunOptions {
  const o = checkOptions<RunOptions>('options', options, ['only', 'runs', 'warmup', 'quick', 'onProgress']);
  const quick = o.quick === undefined ? false : checkBoolean('options.quick', o.quick);
  const out: Required<Omit<RunOptions, 'only' | 'onProgress' | 'runs'>> & RunOptions = {
    quick,
    warmup: o.warmup === undefined ? (quick ? 0 : DEFAULT_WARMUP) : checkInteger('options.warmup', o.warmup, 0, 1000),
  };
  if (o.runs !== undefined) out.runs = checkInteger('options.runs', o.runs, 1, 10000);
  if (o.only !== undefined) {
    if (!Array.isArray(o.only) || o.only.some((x) => typeof x !== 'string')) {
      throw invalidValue('options.only', 'must be an array of benchmark or group names', o.only);
    }
    out.only = o.only;
  }
  if (o.onProgress !== undefined) {
    if (typeof o.onProgress !== 'function') throw invalidValue('options.onProgress', 'must be a function', o.onProgress);
    out.onProgress = o.onProgress;
  }
  return out;
}

/** Picks benchmarks by name or group; an unknown name is a TypeError listing the known ones. */
export function selectBenchmarks(all: readonly Benchmark[], only: readonly string[] | undefined): Benchmark[] {
  if (!only || only.length === 0) return [...all];
  for (const name of only) {
    if (!all.some((b) => b.name === name || b.group === name)) {
      throw invalidValue('only', `names an unknown benchmark "${name}" (known: ${all.map((b) => b.name).join(', ')}; groups: ${[...new Set(all.map((b) => b.group))].join(', ')})`, only);
    }
  }
  return all.filter((b) => only.includes(b.name) || only.includes(b.group));
}

/**
 * Gives back what a benchmark left once it is closed: a full garbage
 * collection, then `malloc_trim` (Node's freed buffers stay resident with
 * glibc otherwise). Without it a benchmark run after `arena-mixed` found
 * gigabytes still resident, and every `smaps_rollup` walk it timed
 * (rss-exact, memory-usage-rollup, the metrics readings) walked them too:
 * each benchmark would measure its predecessors. Outside any timing.
 */
function settle(): void {
  const gc = gcCollector();
  gc?.({ type: 'major' });
  try {
    trimMalloc();
  } catch {
    // No glibc malloc_trim: nothing to give back this way.
  }
}

/**
 * Runs one benchmark: prepare, warm-up rounds, then `runs` rounds in which
 * every contender takes one sample, in an order rotated each round. After
 * closing, what it left is given back (a full GC and `malloc_trim`, outside
 * the timing), so the next benchmark does not measure it.
 */
export function runBenchmark(bench: Benchmark, options?: RunOptions, position = { index: 0, total: 1 }): BenchResult {
  const o = checkRunOptions(options);
  const runs = o.runs ?? (o.quick ? 1 : bench.runs ?? DEFAULT_RUNS);
  const base: BenchResult = {
    name: bench.name, group: bench.group, title: bench.title, unit: bench.unit, runs: 0,
    subject: { label: 'pagewise', ns: summarize([]) }, baselines: [], targets: [], notes: [],
  };
  let prepared: Prepared;
  try {
    prepared = bench.prepare({ quick: o.quick });
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ...base, skipped: `${e.code ? `${e.code}: ` : ''}${e.message.split('\n')[0]}` };
  }
  try {
    const contenders: Contender[] = [prepared.subject, ...prepared.baselines];
    const gc = gcCollector();
    const samples: number[][] = contenders.map(() => []);
    for (let round = -o.warmup; round < runs; round++) {
      o.onProgress?.({ benchmark: bench.name, index: position.index, total: position.total, round, runs });
      const start = ((round % contenders.length) + contenders.length) % contenders.length;
      for (let k = 0; k < contenders.length; k++) {
        const i = (start + k) % contenders.length;
        gc?.({ type: 'minor' });
        const ns = contenders[i]!.sample();
        if (round >= 0) samples[i]!.push(ns);
      }
    }
    const subj = samples[0]!;
    const baselines: BaselineResult[] = prepared.baselines.map((b, j) => {
      const bs = samples[j + 1]!;
      const ratios = subj.map((s, r) => s / bs[r]!);
      return { label: b.label, kind: b.kind, ns: summarize(bs), ratio: summarize(ratios), interval: medianInterval(ratios) };
    });
    const targets: TargetResult[] = (bench.targets ?? []).map((t) => {
      const b = baselines.find((x) => x.label === t.baseline);
      const ratio = b ? b.ratio.median : NaN;
      const interval: [number, number] = b ? b.interval : [NaN, NaN];
      const verdict = o.quick ? null : !b ? 'MISSED' : judge(interval, t.maxRatio);
      return { ...t, ratio, met: o.quick ? null : b !== undefined && ratio <= t.maxRatio, interval, verdict };
    });
    return {
      ...base, runs, subject: { label: prepared.subject.label, ns: summarize(subj) }, baselines, targets,
      notes: prepared.notes ?? [],
      ...(o.quick ? { quick: true } : {}),
    };
  } finally {
    prepared.close();
    settle();
  }
}

/** Runs benchmarks one after the other (all of `list`, or those `options.only` names). */
export function runBenchmarkList(list: readonly Benchmark[], options?: RunOptions): BenchResult[] {
  const o = checkRunOptions(options);
  const chosen = selectBenchmarks(list, o.only);
  return chosen.map((b, index) => runBenchmark(b, o, { index, total: chosen.length }));
}
