/**
 * Text rendering of benchmark results: one table row per contender, the
 * ratios beside the baselines, targets met or missed; every line fitted to a
 * width (the CLI passes the terminal's). The text helpers (wrap, table) are
 * lib/format's.
 */
import type { BaselineKind, BenchResult, Stats, TargetResult } from './harness';
import { table, wrap } from '../format';

function kindText(kind: BaselineKind): string {
  return kind === 'c' ? 'C' : kind === 'napi' ? 'N-API floor' : kind === 'pagewise' ? 'pagewise, other settings' : 'Node';
}

/** Nanoseconds as a short human figure: `812 ns`, `4.78 µs`, `3.2 ms`. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  if (ns < 1000) return `${ns < 10 ? ns.toFixed(2) : ns < 100 ? ns.toFixed(1) : ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** A ratio as `1.04x`. */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return '-';
  return `${r < 0.1 ? r.toFixed(3) : r.toFixed(2)}x`;
}

function spread(s: Stats): string {
  return `${formatNs(s.min)} .. ${formatNs(s.max)}`;
}

/**
 * A median ratio with its interval: `1.46x [1.29–1.60x]` (the interval is
 * the ~95% distribution-free interval of the median, see `medianInterval`).
 */
export function formatRatioInterval(ratio: number, interval: readonly [number, number] | undefined): string {
  if (!interval || !Number.isFinite(interval[0]) || !Number.isFinite(interval[1])) return formatRatio(ratio);
  return `${formatRatio(ratio)} [${formatRatio(interval[0]).slice(0, -1)}–${formatRatio(interval[1])}]`;
}

/**
 * A target's outcome as a word: the interval's verdict (MET, MISSED,
 * UNDECIDED), or the median's where a result carries none; a quick run's is
 * indicative, never judged.
 */
export function verdictOf(t: TargetResult): string {
  if (t.met === null) return 'indicative';
  return t.verdict ?? (t.met ? 'MET' : 'MISSED');
}

function targetRatio(t: TargetResult): string {
  return t.met === null ? formatRatio(t.ratio) : formatRatioInterval(t.ratio, t.interval);
}

/** One benchmark as text (a title line, a table, targets and notes). */
export function formatResult(r: BenchResult, width = 100): string {
  const head = `${r.name} — ${r.title} (ns per ${r.unit}, ${r.runs} ${r.runs === 1 ? 'round' : 'rounds'}${r.quick ? ', quick: indicative only' : ''})`;
  if (r.skipped) return `${head}\n  skipped: ${r.skipped}\n`;
  const rows: string[][] = [['  contender', 'median', 'min .. max', 'pagewise / this: median [~95% interval]']];
  rows.push([`  ${r.subject.label}`, formatNs(r.subject.ns.median), spread(r.subject.ns), '']);
  for (const b of r.baselines) {
    rows.push([`  ${b.label} [${kindText(b.kind)}]`, formatNs(b.ns.median), spread(b.ns),
      r.quick ? formatRatio(b.ratio.median) : formatRatioInterval(b.ratio.median, b.interval)]);
  }
  const lines = [...wrap(head, width, '  '), ...table(rows, width)];
  for (const t of r.targets) {
    lines.push(...wrap(`target: <= ${t.maxRatio}x ${t.baseline}: ${targetRatio(t)} ${verdictOf(t)}`, width, '    ', '  '));
  }
  for (const n of r.notes) lines.push(...wrap(`note: ${n}`, width, '    ', '  '));
  return `${lines.join('\n')}\n`;
}

/** Every target of a run, one line each. */
export function formatTargets(results: readonly BenchResult[], width = 100): string {
  const lines: string[] = [];
  for (const r of results) {
    for (const t of r.targets) {
      lines.push(...wrap(`${r.name}: ${targetRatio(t)} of ${t.baseline} (target <= ${t.maxRatio}x)`, width, ' '.repeat(13), `${verdictOf(t).padEnd(10)}   `));
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * A Markdown table of a run (for BENCHMARKS.md): per contender its median
 * and spread, per baseline the median paired ratio with its ~95% interval,
 * and the verdict of any target held against that baseline.
 */
export function formatMarkdown(results: readonly BenchResult[]): string {
  const lines = [
    '| benchmark | unit | pagewise median (min .. max) | baseline | baseline median | ratio median [~95% interval] | target | verdict |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if (r.skipped) {
      lines.push(`| ${r.name} | ${r.unit} | skipped: ${r.skipped.replace(/\|/g, '\\|')} | | | | | |`);
      continue;
    }
    const subj = `${formatNs(r.subject.ns.median)} (${spread(r.subject.ns)})`;
    if (r.baselines.length === 0) lines.push(`| ${r.name} | ${r.unit} | ${subj} | | | | | |`);
    r.baselines.forEach((b, i) => {
      const t = r.targets.find((x) => x.baseline === b.label);
      const ratio = r.quick ? formatRatio(b.ratio.median) : formatRatioInterval(b.ratio.median, b.interval);
      lines.push(`| ${i === 0 ? r.name : ''} | ${i === 0 ? r.unit : ''} | ${i === 0 ? subj : ''} | ${b.label} (${kindText(b.kind)}) | ${formatNs(b.ns.median)} | ${ratio} | ${t ? `<= ${t.maxRatio}x` : ''} | ${t ? verdictOf(t) : ''} |`);
    });
  }
  return `${lines.join('\n')}\n`;
}
