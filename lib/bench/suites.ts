/**
 * Every benchmark pagewise ships, in the order `pagewise bench` runs them,
 * and the entry points that run them.
 */
import type { Benchmark, BenchResult, RunOptions } from './harness';
import { runBenchmarkList } from './harness';
import { syscallBenchmarks } from './syscalls';
import { pageBenchmarks } from './pages-suite';
import { measureBenchmarks } from './measure-suite';
import { arenaBenchmarks } from './arena-suite';
import { mapsBenchmarks } from './maps-suite';
import { metricsBenchmarks } from './metrics-suite';

/** All benchmarks, by group: syscall, measure, arena, prefault, purge, maps. */
export const benchmarks: readonly Benchmark[] = Object.freeze([
  ...syscallBenchmarks,
  ...measureBenchmarks,
  ...arenaBenchmarks,
  ...pageBenchmarks,
  ...mapsBenchmarks,
  ...metricsBenchmarks,
]);

/**
 * Runs pagewise's benchmarks (all, or `options.only` by name or group) and
 * returns their results: median, min and max of each contender in ns per
 * unit, and the subject's ratio to each baseline, paired round by round.
 *
 * @example
 * const [r] = runBenchmarks({ only: ['madvise-page'] });
 * console.log(r.baselines[0].ratio.median); // e.g. 1.03 (pagewise / C)
 */
export function runBenchmarks(options?: RunOptions): BenchResult[] {
  return runBenchmarkList(benchmarks, options);
}
