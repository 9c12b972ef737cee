/**
 * Resident set size of this process: fast from `statm` (exact on Linux
 * 6.16+), or exact on any kernel from `smaps_rollup`.
 */
import { native } from '../native/binding';
import { pageSize } from '../kernel/system';
import { checkBoolean, checkOptions } from '../validate';
import { statmIsExact } from './memory-usage';

let statmExact: boolean | undefined;

/** Options of {@link rss}. */
export interface RssOptions {
  /** Walk the page tables (`/proc/self/smaps_rollup`) instead of reading the kernel's counters. Default `false`. */
  exact?: boolean;
}

/** A resident set size and where it came from. */
export interface Rss {
  /** Resident bytes. */
  bytes: number;
  /** Resident pages (`bytes / pageSize()`). */
  pages: number;
  /** `'statm'` (counters, fast) or `'smaps_rollup'` (page-table walk, exact). */
  source: 'statm' | 'smaps_rollup';
  /**
   * For `statm`: `true` on Linux 6.16+, where `statm` is an exact sum of the
   * kernel's per-CPU RSS counters, `false` before, where it may lag by up to
   * 64 pages per thread or per CPU (proc_pid_statm(5); see
   * {@link statmIsExact}). `true` for `smaps_rollup`, which counts the page
   * tables now (and leaves out the shared zero page).
   */
  exact: boolean;
}

/**
 * This process's resident set size.
 *
 * Default (fast): one `pread` of `/proc/self/statm` on a descriptor kept
 * open natively (`process.memoryUsage.rss()` opens and reads
 * `/proc/self/stat` each time, which stays the per-CPU estimate on every
 * kernel). Exact on Linux 6.16+, approximate before: `exact` says which.
 *
 * `{ exact: true }`: `/proc/self/smaps_rollup`, a walk of every page table
 * (more costly with many mappings), exact at the moment of the walk on any
 * kernel.
 */
export function rss(options?: RssOptions): Rss {
  const page = pageSize();
  if (options !== undefined) {
    const o = checkOptions<RssOptions>('options', options, ['exact']);
    if (o.exact !== undefined && checkBoolean('options.exact', o.exact)) {
      const bytes = native.smapsRollupRss();
      return { bytes, pages: bytes / page, source: 'smaps_rollup', exact: true };
    }
  }
  const pages = native.statmResident();
  return { bytes: pages * page, pages, source: 'statm', exact: (statmExact ??= statmIsExact()) };
}
