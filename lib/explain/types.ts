/** The shapes `explain()` and `explain.watch()` return. */
import type { CategoryKind } from './classify';

export type { CategoryKind } from './classify';

/** Options of {@link explain}. */
export interface ExplainOptions {
  /** The process to explain. Default: the calling process. */
  pid?: number;
  /** Add the per-VMA rows (`vmas`) to the snapshot. Default `false`. */
  detail?: boolean;
  /**
   * Read `smaps_rollup` right after `smaps` to check the sum
   * (`totals.rollupRss`). Default `true` for `explain()`, `false` for
   * `explain.watch()`: the kernel walks every page table for each of the
   * two files, so the check doubles the kernel's share of the cost.
   */
  rollup?: boolean;
}

/** One VMA as `detail` reports it. */
export interface ExplainVma {
  start: bigint;
  end: bigint;
  perms: string;
  pathname: string;
  rss: number;
  pss: number;
  private: number;
  swap: number;
  /** The category it was put in, and the rule that put it there. */
  category: string;
  rule: string;
  /** Sealed with `mseal` (smaps VmFlags `sl`, Linux 6.11+): no unmap, mprotect, mremap or destructive madvise for the life of the process. */
  sealed: boolean;
  /** Guard pages in it (`MADV_GUARD_INSTALL`; PAGEMAP_SCAN `PAGE_IS_GUARD`, Linux 6.15+), or `null` where the kernel cannot tell. */
  guardPages: number | null;
}

/**
 * One owner of resident memory. The categories of a snapshot partition the
 * process's mappings: every VMA is in exactly one `'vma'` category, or in
 * the anonymous pool that the `'runtime'` categories share out.
 */
export interface ExplainCategory {
  /** Stable id: `code:/usr/lib/x86_64-linux-gnu/libc.so.6`, `heap`, `thread-stacks`, `v8-heap`, `unattributed`, ... */
  id: string;
  kind: CategoryKind;
  /** A short human label (`code libc.so.6`, `[heap] (malloc main arena)`). */
  label: string;
  /** Resident bytes (smaps `Rss`, page-table walk). */
  rss: number;
  /** Proportional set size, bytes. */
  pss: number;
  /** Private_Clean + Private_Dirty, bytes. */
  private: number;
  /** Swapped-out bytes. */
  swap: number;
  /** AnonHugePages, bytes. */
  anonHuge: number;
  /** Number of VMAs it covers (for a runtime category: the pool's VMAs, shared with the other runtime categories; a VMA split between two owners, merged by the kernel, counts with the category of its rest). */
  vmaCount: number;
  /** Virtual size of those VMAs, bytes. */
  size: number;
  /**
   * `'vma'`: exact, from the kernel's mappings. `'runtime'`: a share of the
   * anonymous pool given by a runtime statistic, named in `statistic`.
   */
  source: 'vma' | 'runtime';
  /** For `'runtime'`: the statistic the share comes from (e.g. `v8.getHeapSpaceStatistics() physical_space_size`). */
  statistic?: string;
  /** True where the figure is an estimate: every runtime share, and a VMA category found by shape rather than by name (V8's heap). */
  estimate: boolean;
  /** The rules that put VMAs here, with how many each. */
  evidence: Record<string, number>;
  /** A finer split where one is known (V8 heap by space), bytes; the parts may not add up to `rss` (see `note`). */
  parts?: { name: string; bytes: number }[];
  note?: string;
}

/**
 * A runtime figure that lies inside one or more categories and is not added
 * to the sum (ArrayBuffer backing stores are malloc memory; malloc's free
 * bytes are inside [heap] and the arenas).
 */
export interface ExplainBreakdown {
  id: 'malloc-in-use' | 'malloc-free' | 'array-buffers' | 'v8-used' | 'external';
  label: string;
  bytes: number;
  /** The statistic it is read from. */
  statistic: string;
  /** Category ids it lies within (overlap stated, not counted twice). */
  within: string[];
  estimate: true;
  note: string;
}

/** Runtime statistics of a Node process (the calling one, or a child started with the agent). */
export interface RuntimeStats {
  /** v8.getHeapSpaceStatistics(): per space, bytes. */
  v8Spaces: { name: string; size: number; used: number; physical: number }[];
  /** process.memoryUsage(): arrayBuffers, external, heapUsed, heapTotal. */
  arrayBuffers: number;
  external: number;
  heapUsed: number;
  heapTotal: number;
  /**
   * The address ranges pagewise's addon holds in the process
   * (`regionsHeld()`, hex `[start, end, ...]`), so a child started with the
   * agent has its pagewise memory in the same category as explain() of its
   * own process. Absent from older agents.
   */
  pagewiseRanges?: string[];
  /** glibc mallinfo2() (null off glibc < 2.33). */
  malloc: { arena: number; ordblks: number; hblks: number; hblkhd: number; uordblks: number; fordblks: number; keepcost: number } | null;
  /** When it was read (ms since the epoch). */
  time: number;
  /** Written by the agent from the program's `exit` event: Node's teardown follows. */
  exiting?: boolean;
}

/** Whole-process figures. */
export interface ExplainTotals {
  /** Sum of smaps `Rss` over every VMA: what the categories add up to, exactly. */
  rss: number;
  pss: number;
  /** Unique set size: Private_Clean + Private_Dirty. */
  uss: number;
  swap: number;
  anonHuge: number;
  /** Page tables (`VmPTE` of status): kernel memory for this process, beside RSS and not in it. */
  pageTables: number | null;
  /** `smaps_rollup`'s Rss read right after smaps (null with `rollup: false`). Equal to `rss` when the process did not change between the two reads. */
  rollupRss: number | null;
  /**
   * Bytes merged by KSM (Kernel Samepage Merging) with identical pages: the
   * sum of smaps' `KSM` field (Linux 6.6+), else `ksm_merging_pages` of
   * `/proc/PID/ksm_stat` (6.1+) times the page size; null where the kernel
   * reports neither. Inside Rss (each merged page counts in every process
   * sharing it) and divided in PSS.
   */
  ksm: number | null;
  /** Number of VMAs. */
  vmas: number;
  /** VMAs sealed with `mseal` (smaps VmFlags `sl`, Linux 6.11+), and their virtual size in bytes. */
  sealedVmas: number;
  sealedBytes: number;
  /**
   * Guard pages (`MADV_GUARD_INSTALL`) in the process: one `PAGEMAP_SCAN`
   * for `PAGE_IS_GUARD` (Linux 6.15+) over its address space, right after
   * smaps. `null` (unknown, not 0) where the kernel cannot report them or
   * the process's pagemap cannot be read. They take no memory: a marker in
   * a page-table entry, no VMA.
   */
  guardPages: number | null;
}

/** One snapshot of where a process's resident memory is. */
export interface ExplainSnapshot {
  pid: number;
  /** When smaps was read, ms since the epoch. */
  time: number;
  /** The kernel's page size. */
  pageSize: number;
  totals: ExplainTotals;
  /** Largest first; `unattributed` always present, last. */
  categories: ExplainCategory[];
  /** Runtime figures inside the categories, not added to them. Empty without runtime statistics. */
  breakdowns: ExplainBreakdown[];
  /** The runtime statistics used, or null (another process without the agent). */
  runtime: RuntimeStats | null;
  /** Milliseconds between the runtime statistics' reading and this snapshot (null without statistics). */
  runtimeAgeMs?: number | null;
  /**
   * The runtime statistics are older than the watch allows: the process did
   * not report them in time (its event loop was busy, e.g. synchronous
   * setup). The categories and breakdowns drawn from them are shown but left
   * out of the verdicts' slopes.
   */
  runtimeStale?: boolean;
  /**
   * Taken after the program's agent reported its `exit` event: Node's
   * teardown frees ArrayBuffers and V8's heap before the process ends, so
   * the snapshot is shown but left out of the verdicts.
   */
  teardown?: boolean;
  /** The process runs V8 (a node binary or libnode is mapped, or it reports V8 statistics): advice about V8 applies. */
  node?: boolean;
  /** Per-VMA rows (with `detail: true`). */
  vmas?: ExplainVma[];
  /** Milliseconds the snapshot took (reads, parse, attribution). */
  costMs: number;
}

/** A verdict over a series of snapshots, backed by the figures it came from. */
export interface ExplainVerdict {
  /**
   * `grows` or `shrinks` in the recent window (after the series' change
   * point); `settled`: moved before the change point and flat since (warm-up,
   * one-off setup: not growth now); `steady`: nothing grows or shrinks now.
   */
  kind: 'grows' | 'shrinks' | 'settled' | 'steady';
  /** The category or breakdown id (`'rss'` for the whole process). */
  subject: string;
  label: string;
  /** Least-squares slope over the window judged (after the change point; the whole series for `settled`), bytes per minute. */
  perMinute: number;
  /** Last minus first of that window, bytes. */
  change: number;
  first: number;
  last: number;
  /** Samples and seconds the window covers. */
  samples: number;
  seconds: number;
  /** The threshold a change had to pass (bytes), and how it was set. */
  threshold: number;
  /** Ids (and their changes, bytes) that stayed within the threshold. */
  flat: { id: string; change: number }[];
  /** One sentence: what grows, by how much per minute, against what stays flat, and what to try. */
  text: string;
}

/** A snapshot in a series: with the change since the previous one and the verdicts so far. */
export interface ExplainSample extends ExplainSnapshot {
  /** Milliseconds since the first snapshot of the series. */
  elapsedMs: number;
  /** Change since the previous snapshot: total rss and each category's rss, bytes (a new category counts from 0). */
  delta: { rss: number; categories: Record<string, number> };
  /** Verdicts over the series so far (empty before 3 samples). */
  verdicts: ExplainVerdict[];
}

/** Options of `explain.watch()`. */
export interface WatchOptions extends ExplainOptions {
  /** Milliseconds between snapshots. Default 1000. */
  intervalMs?: number;
  /** Stop after this many snapshots. Default: until the process exits or the loop breaks. */
  count?: number;
  /** Aborting ends the iteration. */
  signal?: AbortSignal;
  /** @internal Where a child's runtime statistics come from (the CLI's agent). */
  runtime?: () => RuntimeStats | null;
  /** @internal Runtime statistics older than this (ms) are stale. Default: the interval plus 250 ms. */
  staleAfterMs?: number;
}
