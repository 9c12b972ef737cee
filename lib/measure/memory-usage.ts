/**
 * `memoryUsage()`: `process.memoryUsage()`'s shape with `rss` from the
 * kernel's exact source, and the figures a dashboard wants beside it.
 */
import * as os from 'node:os';
import { native } from '../native/binding';
import { pageSize } from '../kernel/system';
import { readSmapsRollup } from '../kernel/smaps-rollup';
import { checkBoolean, checkOptions, checkString } from '../validate';

/**
 * Whether `statm` (and `status` `VmRSS`) are exact on a kernel of this
 * release string (`os.release()`): Linux 6.16 made them exact sums of the
 * per-CPU counters (commit 82241a83cd15); before, they lag by up to 64 pages
 * per thread (before 6.2) or per CPU (6.2-6.15). The fix was also backported
 * to 6.12.y and 6.15.y, at stable releases this check does not know: those
 * kernels answer `false` (an exact figure called approximate, never the reverse).
 */
export function statmIsExact(release?: string): boolean {
  if (release === undefined) {
    try {
      release = os.release();
    } catch {
      return false; // the release cannot be read (Deno without --allow-sys): called approximate, never the reverse
    }
  }
  const m = /^(\d+)\.(\d+)/.exec(checkString('release', release));
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 6 || (major === 6 && minor >= 16);
}

/** Options of {@link memoryUsage}. */
export interface MemoryUsageOptions {
  /**
   * Also read `/proc/self/smaps_rollup` (a walk of every page table under the
   * process's `mmap_lock`; tens to hundreds of microseconds with a few hundred
   * mappings) for `pss`, `uss`, `swap` and `anonHuge`; `rss` then comes from
   * the same walk. Default `false`: `rss` from `statm`, the extras `null`.
   */
  rollup?: boolean;
}

/** What {@link memoryUsage} returns: `process.memoryUsage()`'s fields, then pagewise's. All sizes in bytes. */
export interface MemoryUsage {
  /** Resident set size, from `source`. */
  rss: number;
  /** V8's heap, as `process.memoryUsage()` reports it. */
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /**
   * Where `rss` came from: `'statm'` (the kernel's counters, one `pread` on a
   * kept descriptor; exact on Linux 6.16+) or `'smaps_rollup'` (a page-table
   * walk, exact on every kernel). `process.memoryUsage().rss` reads
   * `/proc/self/stat`, whose counter is an estimate on every kernel.
   */
  source: 'statm' | 'smaps_rollup';
  /** Whether `rss` is exact: always for `'smaps_rollup'`; for `'statm'`, on Linux 6.16+ ({@link statmIsExact}). */
  exact: boolean;
  /** Proportional set size (shared pages divided among their sharers); `null` without `rollup: true`. */
  pss: number | null;
  /** Unique set size: Private_Clean + Private_Dirty, what exiting would free; `null` without `rollup: true`. */
  uss: number | null;
  /** Swapped-out anonymous memory; `null` without `rollup: true`. */
  swap: number | null;
  /** Anonymous memory in transparent huge pages (AnonHugePages); `null` without `rollup: true`. */
  anonHuge: number | null;
}

let exactCache: boolean | undefined;

/**
 * This process's memory in the shape of `process.memoryUsage()`, with `rss`
 * from the exact source and `source` saying which. Default: `statm` (one
 * `pread` beside `process.memoryUsage()`'s own work); with
 * `{ rollup: true }`, `smaps_rollup` for `rss` and the extras `pss`, `uss`,
 * `swap`, `anonHuge`, all from one walk (so `uss <= pss <= rss` holds exactly).
 */
export function memoryUsage(options?: MemoryUsageOptions): MemoryUsage {
  let rollup = false;
  if (options !== undefined) {
    const o = checkOptions<MemoryUsageOptions>('options', options, ['rollup']);
    if (o.rollup !== undefined) rollup = checkBoolean('options.rollup', o.rollup);
  }
  const v8 = process.memoryUsage();
  if (rollup) {
    const r = readSmapsRollup();
    const f = r.fields;
    return {
      rss: r.rss, heapTotal: v8.heapTotal, heapUsed: v8.heapUsed, external: v8.external, arrayBuffers: v8.arrayBuffers,
      source: 'smaps_rollup', exact: true,
      pss: r.pss, uss: (f.Private_Clean ?? 0) + (f.Private_Dirty ?? 0), swap: r.swap, anonHuge: r.anonHugePages,
    };
  }
  exactCache ??= statmIsExact();
  return {
    rss: native.statmResident() * pageSize(), heapTotal: v8.heapTotal, heapUsed: v8.heapUsed, external: v8.external, arrayBuffers: v8.arrayBuffers,
    source: 'statm', exact: exactCache,
    pss: null, uss: null, swap: null, anonHuge: null,
  };
}
