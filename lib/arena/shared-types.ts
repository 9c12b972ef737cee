/**
 * The public types of a SharedArena: its token, options and stats.
 */
import { type ShareToken } from '../mapping';

/** What {@link SharedArena.share} returns: post it to a worker and pass it to {@link SharedArena.attach} there. */
export interface SharedArenaToken {
  readonly pagewiseSharedArena: 1;
  /** The memory: a {@link ShareToken}, checked against the native registry by `attach`. */
  readonly memory: ShareToken;
  /** The allocator's metadata (bitmaps, counters), shared by every worker. */
  readonly meta: SharedArrayBuffer;
}

/** Options of `new SharedArena(options?)`. */
export interface SharedArenaOptions {
  /**
   * Bytes of address space, default 1 GiB, rounded up to 64 KiB; at most
   * `min(2^32, buffer.constants.MAX_LENGTH)` (one `heap` reaches every
   * block). Mapped read-write with `MAP_NORESERVE`: not charged to the
   * commit limit under `overcommit_memory` 0 or 1; pages become resident
   * as blocks are first written.
   */
  reserve?: number;
}

/** What {@link SharedArena.stats} returns (a walk of the spans; the counts are exact when no other worker is allocating meanwhile). */
export interface SharedArenaStats {
  reserved: number;
  /** Bytes of spans taken by size classes (64 KiB each). */
  spans: number;
  /** Live handle blocks, in every worker. */
  handles: number;
  /** Bytes of live blocks at their block size. */
  allocated: number;
  /** Bytes of the metadata SharedArrayBuffer. */
  bookkeepingBytes: number;
  /** Threads that hold the memory now (this one included); 0 once this thread closed it. */
  holders: number;
}
