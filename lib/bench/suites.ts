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

/** One row of issue 26's table ("every call at the limit") and the benchmark that measures it. */
export interface LimitRow {
  /** The call as the issue names it. */
  row: string;
  /** The benchmark's name (`pagewise bench --only NAME`). */
  benchmark: string;
  /** Where the time beyond the system call goes, from profiles of a loop of the call (`perf record`). */
  where: string;
}

/** The rows of issue 26's table, in its order (`npm run bench:doc` writes their run into BENCHMARKS.md; scripts/bench-limits.js prints it alone). */
export const limitRows: readonly LimitRow[] = Object.freeze([
  {
    row: "`advise('dontneed')`, one page", benchmark: 'madvise-page',
    where: 'the Node-API crossing: pagewise is at its floor (the bare native call), and the floor alone is above the target (CallApiCallback, napi_get_cb_info, the region type-tag check, three number reads)',
  },
  {
    row: '`faults()`', benchmark: 'faults',
    where: "two system calls: the default still reads the thread's perf counters (one read of their group; see the C loop doing the same two calls); `faults(out)` and `faults({ perf: false })` make one",
  },
  { row: '`faults(out)` (added)', benchmark: 'faults-out', where: 'one getrusage and the crossing; no object' },
  { row: '`faults({ perf: false })`', benchmark: 'faults-getrusage', where: 'one getrusage, the crossing and the result object' },
  { row: '`getrusage()`', benchmark: 'getrusage', where: 'the Node-API crossing (floor column) plus the result object' },
  { row: "`getrusage('thread', out)` (added)", benchmark: 'getrusage-out', where: 'the Node-API crossing (floor column)' },
  { row: "`residency(m, { source: 'mincore' })`, 1 GiB half resident", benchmark: 'residency-mincore-1g', where: 'mincore itself; no guard-page scan where pagewise installed no guard pages' },
  {
    row: '`explain()`, 10,000 mappings', benchmark: 'explain-10000',
    where: 'smaps is read and scanned in one native pass (64 KiB reads, counters and mapping-line fields into columns) and smaps_rollup after it: a little above the C read alone; ' +
      "the guard-page scan covers only VMAs smaps flags gu. Beyond that (CPU profile of one call, about the read again): attribution, the largest part (classification, the malloc chunk-header reads of V8's pages by pagemap and /proc/self/mem), " +
      'one object per VMA with two BigInts and its collection, and the runtime statistics (mallinfo2, V8 heap spaces)',
  },
  { row: '`readMaps()`, own mappings', benchmark: 'readmaps-own', where: 'the file read as bytes and parsed without decoding it or a regular expression per line' },
  { row: '`readMaps()`, 10,000 mappings', benchmark: 'readmaps-10000', where: 'the file read as bytes and parsed without decoding it or a regular expression per line' },
  {
    row: '`mmap(page)` + `.buffer` + `unmap()`', benchmark: 'mmap-unmap-page',
    where: "the ArrayBuffer over the mapping: pagewise is at its floor (the bare native calls), which is the target's miss: napi_create_external_arraybuffer with a finalizer and a reference to detach it at unmap (V8 global handle, Node-API reference tracker, finalizer queue), the detach, and unmap's MADV_DONTNEED where C munmaps (V8 frees the backing store only when it collects the buffer: the range is unmapped in the finalizer) (perf record of the loop); without .buffer see mmap-unmap-bare",
  },
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
