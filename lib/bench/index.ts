/**
 * `pagewise/bench`: pagewise's benchmarks, each beside its baselines measured
 * in the same run (a C loop doing the same system calls, and the Node
 * built-in a user would pick), and the harness to measure your own code.
 * This file only re-exports.
 */
export { benchmarks, limitRows, runBenchmarks } from './suites';
export type { LimitRow } from './suites';
export { judge, medianInterval, runBenchmark, runBenchmarkList, selectBenchmarks, summarize, timeLoop, timeOnce } from './harness';
export type {
  Benchmark, BenchResult, Baseline, BaselineKind, BaselineResult, Contender, Prepared, Progress, RunOptions, Scale, Stats,
  Target, TargetResult,
} from './harness';
export { formatResult, formatTargets, formatMarkdown, formatNs, formatRatio, formatRatioInterval, verdictOf } from './print';
export { benchMemory } from './memory';
export type { BenchMemoryOptions, BenchMemoryResult } from './memory';
export { benchShareHandoff } from './share';
export type { BenchShareOptions, BenchShareResult } from './share';
