/**
 * Repeated, interleaved trials and the verdict they support:
 * a verdict is a statistical claim. {@link decide} is the one mechanism for
 * a claim about a ratio: each trial runs the contenders in turn (A, B, then
 * B, A in the next trial, so neither always goes first) and yields one ratio;
 * trials repeat until the 99% interval of the median ratio lies inside the
 * range where the claim holds or outside it, or the trial cap or the budget
 * runs out; then the 95% interval decides: confirmed inside, refuted outside,
 * else ("inconclusive here", with the interval and the load
 * average). The figure may be any number with a threshold (a share of pages,
 * bytes saved), and a trial may run child processes. {@link spread} only
 * describes figures beside a verdict.
 * @internal
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../native/package-root';
import { median } from './common';

/** The median and the range of a figure over trials. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** `median [min, max] (n trials)` with a formatter. */
export function showSpread(s: Spread, fmt: (v: number) => string): string {
  return `${fmt(s.median)} [${fmt(s.min)}, ${fmt(s.max)}] over ${s.n} trials`;
}

/** The compiled package entry a child process requires: dist/lib/index.js beside this file, or (run from source, as the tests do) the package's dist. */
export function packageIndex(): string {
  const index = path.join(__dirname, '..', 'index.js');
  if (fs.existsSync(index)) return index;
  return path.join(packageRoot() ?? path.join(__dirname, '..', '..'), 'dist', 'lib', 'index.js');
}

/**
 * Runs `code` in a fresh Node process with `pw` bound to this package and
 * returns the JSON of its last stdout line (`nodeArgs` before `-e`).
 */
export function nodeChild<T>(code: string, nodeArgs: string[] = []): T {
  const index = packageIndex();
  const r = spawnSync(process.execPath, [...nodeArgs, '-e', `const pw = require(${JSON.stringify(index)});\n${code}`], { encoding: 'utf8', timeout: 10 * 60_000 });
  if (r.status !== 0) throw new Error(`experiment child failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

/** Where a ratio's claim holds: `[lo, hi]`, either end may be infinite. */
export type Holds = readonly [number, number];

/** What {@link decide} concluded. */
export interface Decision {
  /** `inconclusive` when the interval overlaps both where the claim holds and where it does not. */
  outcome: 'confirmed' | 'refuted' | 'inconclusive';
  /** Median of the per-trial ratios. */
  median: number;
  /** The 95% distribution-free interval of the median (order statistics). */
  low: number;
  high: number;
  /** Where the claim holds. */
  holds: Holds;
  /** Trials run. */
  n: number;
  /** Every trial's ratio, in order. */
  ratios: number[];
  /** Why it stopped: the interval decided, the trial cap, or the time budget. */
  stopped: 'decided' | 'maxTrials' | 'budget';
  /** 1-minute load average when the trials started and ended (`os.loadavg()`). */
  loadavg: [number, number];
}

/**
 * The 0-based ranks `[k, n - 1 - k]` of the order statistics that bound the
 * median with at least `confidence` (binomial, distribution-free): for n = 7
 * the whole range, for n = 9 the second smallest to the second largest.
 * Fewer than 6 trials cannot reach 95%: the whole range is returned.
 */
export function medianRanks(n: number, confidence = 0.95): [number, number] {
  // [x_k, x_(n-1-k)] misses the median with probability 2 P(X <= k), X ~ Binomial(n, 1/2): the largest k that keeps it under 1 - confidence.
  let k = 0;
  let cum = 0;
  let term = Math.pow(0.5, n); // P(X = j)
  for (let j = 0; j <= (n - 1) / 2; j++) {
    cum += term;
    if (2 * cum > 1 - confidence) break;
    k = j;
    term = (term * (n - j)) / (j + 1);
  }
  return [k, Math.max(k, n - 1 - k)];
}

/** The median of `ratios` and its 95% interval ({@link medianRanks}). */
export function medianInterval(ratios: readonly number[], confidence = 0.95): { median: number; low: number; high: number } {
  const s = [...ratios].sort((a, b) => a - b);
  const [lo, hi] = medianRanks(s.length, confidence);
  return { median: median(s), low: s[lo] ?? NaN, high: s[hi] ?? NaN };
}

/** Confirmed when `[low, high]` lies inside `holds`, refuted when it misses it, inconclusive otherwise. */
export function judge(low: number, high: number, holds: Holds): Decision['outcome'] {
  if (!(low <= high)) return 'inconclusive';
  if (low >= holds[0] && high <= holds[1]) return 'confirmed';
  if (high < holds[0] || low > holds[1]) return 'refuted';
  return 'inconclusive';
}

/** The confidence an early stop needs (the verdict uses 95%). */
const EARLY_STOP_CONFIDENCE = 0.99;

/** Options of {@link decide}. */
export interface DecideOptions {
  /** One trial: runs the contenders (in the order `flip` says) and returns their ratio. */
  trial: (flip: boolean) => number;
  /** Where the claim holds, e.g. `[0, 1]` for "A costs less than B", `[0.5, 2]` for "about the same". */
  holds: Holds;
  /** Trials before the first look (default 9). */
  minTrials?: number;
  /** Trials at most (default 41). */
  maxTrials?: number;
  /** Stop looking after this many milliseconds, once `minTrials` ran (default 5000). */
  budgetMs?: number;
  /** Untimed warm-up trials first (default 1): JIT and first-touch effects stay out. */
  warmup?: number;
}

/**
 * Runs trials until the interval of the median ratio decides the claim or
 * the budget runs out. Every trial's ratio is kept; a trial returning a
 * non-finite number counts as no trial.
 */
export function decide(o: DecideOptions): Decision {
  return decideAll({ ...o, trial: (flip) => [o.trial(flip)] })[0]!;
}

/**
 * {@link decide} for several ratios measured in the same trials (each must
 * hold for the claim; `holds` is one range for all or one per ratio): the
 * trials stop early only when every ratio's 99% interval decides. One {@link Decision} per ratio, in the trial's order; a
 * trial with any non-finite ratio counts as no trial.
 */
export function decideAll(o: Omit<DecideOptions, 'trial' | 'holds'> & { trial: (flip: boolean) => readonly number[]; holds: Holds | readonly Holds[] }): Decision[] {
  // One range for every ratio, or one per ratio (in the trial's order).
  const holdsOf = (k: number): Holds => (isHolds(o.holds) ? o.holds : o.holds[k] ?? o.holds[o.holds.length - 1]!);
  const minTrials = o.minTrials ?? 9;
  const maxTrials = Math.max(minTrials, o.maxTrials ?? 41);
  const budgetMs = o.budgetMs ?? 5000;
  const load0 = os.loadavg()[0]!;
  for (let i = 0; i < (o.warmup ?? 1); i++) o.trial(i % 2 === 1);
  const t0 = Date.now();
  const rows: number[][] = [];
  let stopped: Decision['stopped'] = 'maxTrials';
  let attempts = 0;
  while (rows.length < maxTrials && attempts < 2 * maxTrials) {
    const r = o.trial(attempts % 2 === 1);
    attempts++;
    if (r.length > 0 && r.every(Number.isFinite)) rows.push([...r]);
    if (rows.length < minTrials) continue;
    // Looking after every trial and stopping at the first decision would call
    // a ratio near the threshold now one way, now the other: an early stop
    // needs the 99% interval; the verdict itself takes the 95% one.
    const width = rows[0]!.length;
    let all = true;
    for (let k = 0; k < width && all; k++) {
      const { low, high } = medianInterval(rows.map((x) => x[k]!), EARLY_STOP_CONFIDENCE);
      if (judge(low, high, holdsOf(k)) === 'inconclusive') all = false;
    }
    if (all) {
      stopped = 'decided';
      break;
    }
    if (Date.now() - t0 >= budgetMs) {
      stopped = 'budget';
      break;
    }
  }
  const load1 = os.loadavg()[0]!;
  const width = rows.length ? rows[0]!.length : 1;
  return Array.from({ length: width }, (_, k) => {
    const ratios = rows.map((x) => x[k]!);
    const { median: mid, low, high } = medianInterval(ratios);
    const outcome = ratios.length >= Math.min(minTrials, 6) ? judge(low, high, holdsOf(k)) : 'inconclusive';
    return { outcome, median: mid, low, high, holds: holdsOf(k), n: ratios.length, ratios, stopped, loadavg: [load0, load1] };
  });
}

function isHolds(h: Holds | readonly Holds[]): h is Holds {
  return typeof h[0] === 'number';
}

/** The verdict a decision supports: 'depends' (with "inconclusive here" in its condition) when the interval straddles the threshold. */
export function verdictOf(d: Decision): 'confirmed' | 'refuted' | 'depends' {
  return d.outcome === 'inconclusive' ? 'depends' : d.outcome;
}

/** `0.26x`, with enough digits for small ratios. */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  return `${r < 0.1 ? r.toPrecision(2) : r.toFixed(2)}x`;
}

/** `median 0.26x, 95% interval [0.22x, 0.31x], 15 trials`. */
export function showDecision(d: Decision, fmt: (v: number) => string = fmtRatio, what = 'interleaved trials'): string {
  return `median ${fmt(d.median)}, 95% interval [${fmt(d.low)}, ${fmt(d.high)}] over ${d.n} ${what}`;
}

/** `load average 5.4 -> 6.1`. */
export function showLoad(d: Decision): string {
  return `load average ${d.loadavg[0].toFixed(1)} -> ${d.loadavg[1].toFixed(1)} on ${os.cpus().length} CPUs`;
}

/** The text a non-decision adds to a condition: "inconclusive here: ..." with the interval and the load. */
export function inconclusiveText(what: string, d: Decision, claimRange: string, fmt: (v: number) => string = fmtRatio, trials = 'interleaved trials'): string {
  return `inconclusive here: ${what} ${showDecision(d, fmt, trials)}, which straddles ${claimRange} (${showLoad(d)}; stopped at ${d.stopped === 'budget' ? 'the time budget' : 'the trial cap'})`;
}
