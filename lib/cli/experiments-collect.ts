/**
 * Running experiments for the CLI: each one's failure caught and reported,
 * the others still run; the run's metadata with the results.
 */
import * as os from 'node:os';
import { version } from './support';
import { findExperiments } from '../experiments';
import { pageSize } from '../kernel/system';
import type { Experiment, ExperimentResult } from '../experiments';

/** A failed experiment (it threw): reported, the others still run. */
export interface ExperimentFailure {
  id: string;
  number: number;
  error: string;
}

/** What `--json` prints. */
export interface ExperimentsReport {
  pagewise: string;
  kernel: string;
  arch: string;
  node: string;
  pageSize: number;
  startedAt: string;
  durationMs: number;
  results: ExperimentResult[];
  failures: ExperimentFailure[];
}

/** Runs experiments with an optional progress callback, catching each one's failure. */
export function collect(only: string[], progress?: (e: Experiment, i: number, n: number) => void): ExperimentsReport {
  const list = findExperiments(only);
  const t0 = Date.now();
  const results: ExperimentResult[] = [];
  const failures: ExperimentFailure[] = [];
  list.forEach((e, i) => {
    progress?.(e, i, list.length);
    try {
      results.push(e.run());
    } catch (err) {
      failures.push({ id: e.id, number: e.number, error: (err as Error).message.split('\n')[0] ?? String(err) });
    }
  });
  return {
    pagewise: version(),
    kernel: os.release(),
    arch: process.arch,
    node: process.version,
    pageSize: pageSize(),
    startedAt: new Date(t0).toISOString(),
    durationMs: Date.now() - t0,
    results,
    failures,
  };
}
