/**
 * Resident set size of this process: fast and approximate from `statm`, or
 * exact from `smaps_rollup`.
 */
import { native } from '../native';
import { pageSize } from '../system';
import { checkBoolean, checkOptions } from '../validate';

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
   * `false` for `statm`: the kernel's RSS counters are per-CPU and may lag by
   * a few pages per CPU (proc_pid_statm(5)). `true` for `smaps_rollup`, which
   * counts the page tables now (and leaves out the shared zero page).
   */
  exact: boolean;
}

/**
 * This process's resident set size.
 *
 * Default (fast): one `pread` of `/proc/self/statm` on a descriptor kept
 * open natively (about 1.7 us here; `process.memoryUsage.rss()` opens and
 * reads `/proc/self/stat` each time, about 9 us). Approximate, as the
 * kernel's counters are.
 *
 * `{ exact: true }`: `/proc/self/smaps_rollup`, a walk of every page table
 * (15-20 us, more with many mappings), exact at the moment of the walk.
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
  return { bytes: pages * page, pages, source: 'statm', exact: false };
}
