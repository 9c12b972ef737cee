/**
 * `pagewise experiments --repeat N`: every experiment N times in a row, one
 * table of experiment × run → verdict, and whether each experiment's verdict
 * held in every run. An "inconclusive here" verdict is its own verdict (not
 * 'depends'), so a run that decides and one that does not count as different.
 */
import * as os from 'node:os';
import type { Experiment, ExperimentResult } from '../experiments';
import { findExperiments } from '../experiments';
import { collect, type ExperimentsReport } from './experiments-collect';
import { table } from './support';

/** What one run of one experiment said: its verdict, `inconclusive` when the trials did not decide, `skipped`, or `failed`. */
export type RunVerdict = ExperimentResult['verdict'] | 'inconclusive' | 'skipped' | 'failed';

/** The verdict a result counts as in a repeat: 'inconclusive' and 'skipped' apart from 'depends'. */
export function runVerdict(r: ExperimentResult): RunVerdict {
  if (r.skipped !== undefined) return 'skipped';
  if (r.inconclusive) return 'inconclusive';
  return r.verdict;
}

/** One experiment's row: its verdict in each run and whether they were all the same. */
export interface RepeatRow {
  id: string;
  number: number;
  verdicts: RunVerdict[];
  held: boolean;
}

/** What `--repeat N --json` prints. */
export interface RepeatReport {
  pagewise: string;
  kernel: string;
  node: string;
  cpus: number;
  runs: number;
  /** 1-minute load average before the first run and after the last (`os.loadavg()`). */
  loadavg: { start: number; end: number };
  /** Each run's start and end load average. */
  runLoad: Array<{ start: number; end: number; durationMs: number }>;
  rows: RepeatRow[];
  /** Every run's full report. */
  reports: ExperimentsReport[];
}

/** The table's rows: each experiment's verdict in each report (`failed` where it has no result) and whether they all agree. */
export function repeatRows(list: readonly Pick<Experiment, 'id' | 'number'>[], reports: readonly Pick<ExperimentsReport, 'results'>[]): RepeatRow[] {
  return list.map((e): RepeatRow => {
    const verdicts = reports.map((rep): RunVerdict => {
      const r = rep.results.find((x) => x.id === e.id);
      return r ? runVerdict(r) : 'failed';
    });
    return { id: e.id, number: e.number, verdicts, held: verdicts.every((v) => v === verdicts[0]) };
  });
}

/** Runs the experiments `runs` times in a row; `progress` is told of each experiment of each run. */
export function repeatExperiments(only: string[], runs: number, progress?: (run: number, e: Experiment, i: number, n: number) => void): RepeatReport {
  const list = findExperiments(only);
  const start = os.loadavg()[0]!;
  const reports: ExperimentsReport[] = [];
  const runLoad: RepeatReport['runLoad'] = [];
  for (let k = 0; k < runs; k++) {
    const l0 = os.loadavg()[0]!;
    const rep = collect(only, (e, i, n) => progress?.(k, e, i, n));
    runLoad.push({ start: l0, end: os.loadavg()[0]!, durationMs: rep.durationMs });
    reports.push(rep);
  }
  const rows = repeatRows(list, reports);
  const first = reports[0]!;
  return { pagewise: first.pagewise, kernel: first.kernel, node: first.node, cpus: os.cpus().length, runs, loadavg: { start, end: os.loadavg()[0]! }, runLoad, rows, reports };
}

/**
 * The table: one line per experiment, one column per run, the last column
 * `yes` or `NO`; then the load per run. Its lines are as wide as the runs
 * need (one column each), never folded to the terminal.
 */
export function formatRepeat(rep: RepeatReport): string {
  const head = ['#', 'experiment', ...rep.runLoad.map((_, k) => `run ${k + 1}`), 'same every run'];
  const body = rep.rows.map((r) => [String(r.number), r.id, ...r.verdicts, r.held ? 'yes' : 'NO']);
  body.push(['', 'load average', ...rep.runLoad.map((l) => `${l.start.toFixed(1)}->${l.end.toFixed(1)}`), '']);
  const held = rep.rows.filter((r) => r.held).length;
  return [
    `pagewise ${rep.pagewise} experiments, ${rep.runs} runs in a row — Linux ${rep.kernel}, Node ${rep.node}, ${rep.cpus} CPUs; load average (1 min) ${rep.loadavg.start.toFixed(1)} at the start, ${rep.loadavg.end.toFixed(1)} at the end`,
    '',
    ...table([head, ...body], Number.MAX_SAFE_INTEGER),
    '',
    `${held} of ${rep.rows.length} experiments gave the same verdict in every run ('inconclusive' counted as its own verdict).`,
  ].join('\n');
}

/** The same table in Markdown. */
export function formatRepeatMarkdown(rep: RepeatReport): string {
  const cells = (xs: string[]): string => `| ${xs.join(' | ')} |`;
  const head = ['#', 'Experiment', ...rep.runLoad.map((_, k) => `Run ${k + 1}`), 'Same every run'];
  return [
    `Linux ${rep.kernel}, Node ${rep.node}, ${rep.cpus} CPUs, ${rep.runs} runs in a row; load average (1 min) ${rep.loadavg.start.toFixed(1)} at the start, ${rep.loadavg.end.toFixed(1)} at the end.`,
    '',
    cells(head),
    cells(head.map(() => '---')),
    ...rep.rows.map((r) => cells([String(r.number), r.id, ...r.verdicts, r.held ? 'yes' : '**no**'])),
    cells(['', 'load average', ...rep.runLoad.map((l) => `${l.start.toFixed(1)} → ${l.end.toFixed(1)}`), '']),
  ].join('\n');
}
