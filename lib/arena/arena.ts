/**
 * The Arena class: checks its receiver and arguments, then hands the work to
 * one file per concern: options.ts (options and defaults), heap.ts (state,
 * reservation, commits, retention and decay), owners.ts (slab, segment and
 * large-block records and their views), slabs.ts (small blocks), runs.ts
 * (medium and large blocks, realloc), purge.ts (purge, decay, reset),
 * stats.ts (the only user of the measurement kit), handles.ts (blocks by
 * handle). What a view may reach after free(), and why nothing a caller can
 * reach is trusted (private fields, built-ins captured in intrinsics.ts):
 * docs/arena.md, "How it works".
 */
import { inspect } from 'node:util';
import { invalidState, invalidType, invalidValue } from '../errors';
import { CLASS_QUANTUM } from './classes';
import { BigIntOf, bufferOf, byteOffsetOf, ceil, isUint8Array } from './intrinsics';
import { checkArenaBoolean, checkArenaInteger, notArena, readOptions } from './checks';
import { Block, K_CHUNK, K_SLAB, OwnedBuffer } from './owners';
import { type ArenaOptions, type ArenaResetOptions, resolveArenaOptions } from './options';
import { clearIntervalOf, Heap, isNoMemory } from './heap';
import { small, freeSmall } from './slabs';
import { allocate, freeRun, reallocBlock, usableSize } from './runs';
import { purgeAll, resetHeap, forget } from './purge';
import { type ArenaStats, type ArenaStatsOptions, statsOf } from './stats';
import { nMunmap, nRegionAddress } from './calls';
import { HandleSpace } from './handles';
import { allocHandleSlow, reallocHandle } from './handle-alloc';
import { handleLimit } from './handle-ids';
import { trackArena } from './live';
import { maxArrayBufferLength } from '../kernel/system';
import { populate } from './guard-pages';
import { notLive, owns } from './view-checks';

export { LARGE_BLOCK_BYTES } from './options';
export type { ArenaOptions, ArenaResetOptions } from './options';
export type { ArenaStats, ArenaStatsOptions } from './stats';

/** The arena's handle state, made on first use; refused with guard pages (a `heap` buffer would cover them). */
function handlesOf(h: Heap): HandleSpace {
  h.live();
  if (h.handles !== null) return h.handles;
  if (h.guard > 0) throw invalidState('Handles are not available in an arena with guardPages: the heap buffer would cover the guard pages');
  h.handles = new HandleSpace(h, h.handleGenerations);
  return h.handles;
}

/** The refusal for a handle in an arena that never handed one out. */
function noHandle(h: Heap, handle: unknown): TypeError {
  if (typeof handle !== 'number') return invalidType('handle', 'of type number', handle);
  if (h.closed) return invalidState('The arena is closed');
  return invalidValue('handle', 'is not a live handle of this arena (freed, forged, part of a block, or from elsewhere)', handle);
}

/**
 * An arena allocator over one `PROT_NONE | MAP_NORESERVE` reservation:
 * address space is reserved cheaply (64 GiB works on a machine with less
 * memory: nothing is charged or resident), committed in chunks with
 * `mprotect`, and handed out as `Uint8Array` views with no system call in the
 * common case. Memory goes back to the kernel on demand: {@link Arena.purge}
 * for free pages, {@link Arena.reset} for everything, {@link Arena.close} to
 * unmap.
 *
 * A commit the kernel refuses (`overcommit_memory=2`, `RLIMIT_DATA`) makes
 * {@link Arena.alloc} throw `ENOMEM` (`syscall: 'mprotect'`) and
 * {@link Arena.tryAlloc} return `null`; earlier blocks are untouched. A full
 * reservation fails the same way with `code: 'ENOMEM'` and no `syscall`.
 *
 * An arena belongs to the thread (main or worker) that made it. One that is
 * garbage-collected is unmapped once no view of it is reachable either.
 *
 * @example
 * using arena = new Arena({ reserve: 64 * 2 ** 30 });  // 64 GiB, nothing resident
 * const a = arena.alloc(64);                         // no system call
 * arena.free(a);
 * arena.reset();                                     // every view now has length 0; RSS back to 0
 */
export class Arena {
  readonly #heap: Heap;

  /** True for a real Arena (not a Proxy of one, not a look-alike); never throws. */
  static #is(o: unknown): o is Arena {
    return typeof o === 'object' && o !== null && #heap in o;
  }

  /**
   * Reserves the address space (no memory is committed yet). Throws
   * TypeError/RangeError on bad options before any system call, and the
   * `mmap` error if the kernel refuses the reservation.
   */
  constructor(options?: ArenaOptions) {
    const config = resolveArenaOptions(options);
    const h = (this.#heap = new Heap(config));
    const lo = nRegionAddress(h.region);
    trackArena(this, config.name, lo, lo + BigIntOf(h.regionLength));
  }

  /** True after {@link Arena.close}. */
  get closed(): boolean {
    if (!Arena.#is(this)) throw notArena();
    return this.#heap.closed;
  }

  /** Start address of the reservation (for `/proc/self/maps`, `smaps`). */
  get address(): bigint {
    if (!Arena.#is(this)) throw notArena();
    const h = this.#heap;
    return nRegionAddress(h.region) + BigIntOf(h.start);
  }

  /**
   * Allocates `size` bytes (uninitialized, like `Buffer.allocUnsafe`) and
   * returns a view of exactly `size` bytes. `align` (a power of two) is the
   * byte alignment of the block's address; default 16 for small blocks, the
   * page size for larger ones. Commits a chunk when needed: throws ENOMEM
   * (`syscall: 'mprotect'`) if the kernel refuses it. A `size` or `align`
   * that is not a number is refused (`ERR_INVALID_ARG_TYPE`), never coerced.
   */
  alloc(size: number, align?: number): Uint8Array {
    if (!Arena.#is(this)) throw notArena();
    const h = this.#heap;
    if (align === undefined && typeof size === 'number' && size >>> 0 === size && size <= h.smallMax) {
      // Fast path: one bitmap scan and one Uint8Array, no system call.
      return small(h, h.byQuantum[(size + CLASS_QUANTUM - 1) >>> 4]!, size);
    }
    return allocate(h, size, align, false);
  }

  /**
   * Like {@link Arena.alloc}, but returns `null` where `alloc` would throw
   * ENOMEM, and for a size no block can have here (past the arena's
   * reservation or the largest ArrayBuffer the runtime makes): a failed
   * allocation, not a bad argument. Bad arguments still throw.
   */
  tryAlloc(size: number, align?: number): Uint8Array | null {
    if (!Arena.#is(this)) throw notArena();
    try {
      return this.alloc(size, align);
    } catch (e) {
      if (isNoMemory(e)) return null;
      if (tooLarge(this.#heap, size, align, e)) return null;
      throw e;
    }
  }

  /**
   * Like {@link Arena.alloc}, but the bytes are zero. Pages the arena knows
   * are zero (fresh from commit, or purged with `MADV_DONTNEED` and not
   * handed out since) are not written, so a large zeroed block costs no
   * page faults until it is used.
   */
  allocZeroed(size: number, align?: number): Uint8Array {
    if (!Arena.#is(this)) throw notArena();
    return allocate(this.#heap, size, align, true);
  }

  /**
   * Releases a block. Refuses (TypeError, `ERR_INVALID_ARG_VALUE`) a view
   * that is not a live block of this arena: freed already, freed by
   * `reset()`, part of a block, or from elsewhere. A large block's view is
   * detached (reads as length 0) and its pages purged.
   */
  free(view: Uint8Array): void {
    if (!Arena.#is(this)) throw notArena();
    const owner = typeof view === 'object' && view !== null ? Block.owner(view) : undefined;
    if (owner !== undefined && owner.kind === K_SLAB) freeSmall(this.#heap, view, owner);
    else freeRun(this.#heap, view, owner);
  }

  /**
   * The usable size of a live block (`view` as `alloc()` returned it): its
   * size class for small blocks, whole pages for the others. The block may
   * be used up to this size through {@link Arena.realloc} without moving.
   */
  sizeOf(view: Uint8Array): number {
    if (!Arena.#is(this)) throw notArena();
    this.#heap.live();
    return usableSize(this.#heap, view);
  }

  /**
   * Resizes a live block to `size` bytes, keeping its contents (up to the
   * smaller size). Stays in place when `size` fits the block's usable size
   * ({@link Arena.sizeOf}), or when the pages right after a page run are
   * free (it grows into them); else allocates a new block, copies and frees
   * the old one. Returns the view to use from now on: the old view must not
   * be used again (a large block's old view is detached; others, as after
   * `free()`, may still see memory that is handed out again).
   */
  realloc(view: Uint8Array, size: number): Uint8Array {
    if (!Arena.#is(this)) throw notArena();
    this.#heap.live();
    return reallocBlock(this.#heap, view, size);
  }

  /**
   * The address of the first byte of `view`, a view of a live buffer of this
   * arena (a block, or part of one). For alignment checks and for handing the
   * memory to native code; throws like {@link Arena.free} for other views.
   * The view's geometry is read through the original typed-array getters,
   * not through the object.
   */
  addressOf(view: Uint8Array): bigint {
    if (!Arena.#is(this)) throw notArena();
    const h = this.#heap;
    if (!isUint8Array(view)) throw invalidType('view', 'an instance of Uint8Array', view);
    const owner = OwnedBuffer.owner(bufferOf(view));
    if (owner === undefined || !owns(h, owner)) throw notLive(h, view);
    const base = owner.kind === K_CHUNK ? owner.index * h.chunkBytes : owner.page * h.page;
    return nRegionAddress(h.region) + BigIntOf(h.start + base + byteOffsetOf(view));
  }

  /**
   * Frees every block at once. Every view of the arena is detached (reads as
   * length 0), and the committed range is purged with one `madvise` (the
   * arena's resident pages drop to 0 with `'dontneed'`). With
   * `{ decommit: true }` the commit goes back too.
   */
  reset(options?: ArenaResetOptions): void {
    if (!Arena.#is(this)) throw notArena();
    const o = readOptions('options', options, ['decommit', 'keep']);
    const decommit = o.decommit === undefined ? false : checkArenaBoolean('options.decommit', o.decommit);
    const keep = o.keep === undefined ? false : checkArenaBoolean('options.keep', o.keep);
    if (keep && decommit) throw invalidValue('options', 'cannot both keep and decommit the pages', options);
    this.#heap.live();
    resetHeap(this.#heap, keep, decommit);
  }

  /**
   * Gives free memory back without touching live blocks: returns slabs with
   * no block in use, then purges every free page that may be dirty (one
   * `madvise` per dirty stretch), inside slabs too: a slab page on which no
   * live block lies is purged while the slab lives. Returns the bytes
   * advised (passed to `madvise`), which is at least what stopped being
   * resident: afterwards the arena's resident pages are exactly the pages
   * holding a live block (with `'dontneed'`). With `purge: 'free'` the pages
   * go lazily.
   */
  purge(): number {
    if (!Arena.#is(this)) throw notArena();
    this.#heap.live();
    return purgeAll(this.#heap);
  }

  /**
   * Commits and prefaults the first `bytes` of the arena (rounded up to
   * pages; allocation fills the arena from its start, so these are the pages
   * the next blocks use). Uses `MADV_POPULATE_WRITE` (Linux 5.14+: an
   * ENOMEM comes back as an error, not a kill), else writes each page once
   * from JS without changing its contents.
   */
  prefault(bytes: number): void {
    if (!Arena.#is(this)) throw notArena();
    const h = this.#heap;
    h.live();
    const len = ceil(checkArenaInteger('bytes', bytes, 0, h.reserve) / h.page) * h.page;
    if (len === 0) return;
    if (len > h.committed) h.commit(ceil((len - h.committed) / h.chunkBytes), false);
    if (!h.prefaultChunks) populate(h, 0, len);
  }

  /**
   * Counters of the arena, kept as blocks come and go: O(1) in the arena's
   * size. `resident` and `mappings` are measured only with
   * `{ resident: true }` (one `mincore` over the committed range and a read
   * of `/proc/self/maps`).
   */
  stats(options?: ArenaStatsOptions): ArenaStats {
    if (!Arena.#is(this)) throw notArena();
    const o = readOptions('options', options, ['resident']);
    const measure = o.resident === undefined ? false : checkArenaBoolean('options.resident', o.resident);
    return statsOf(this.#heap, measure);
  }

  // Blocks by handle (handles.ts): numbers, no object per block.

  /**
   * Allocates `size` bytes (uninitialized) and returns a handle: the
   * block's byte offset in {@link Arena.heap} and {@link Arena.data}. No JS
   * object, no native call and no system call on the common path (a free
   * slot of the current slab); the metadata lives in typed arrays. `align`
   * (a power of two) as for {@link Arena.alloc}. Commits a chunk when needed:
   * ENOMEM (`syscall: 'mprotect'`) if the kernel refuses. Handle blocks live
   * in the first 4 GiB of the arena (the most one `ArrayBuffer` holds on
   * Node 20). Read {@link Arena.heap} again after an allocation: it is
   * replaced when the arena grows, as `WebAssembly.Memory.buffer` is.
   * Refused in an arena with `guardPages` (`ERR_INVALID_STATE`).
   */
  allocHandle(size: number, align?: number): number {
    if (!Arena.#is(this)) throw notArena();
    const hs = this.#heap.handles;
    if (hs !== null && align === undefined && size >>> 0 === size && size <= hs.smallMax) {
      return hs.allocSmall(hs.byQuantum[(size + CLASS_QUANTUM - 1) >>> 4]!);
    }
    return allocHandleSlow(handlesOf(this.#heap), size, align);
  }

  /**
   * Like {@link Arena.allocHandle}, but returns -1 where it would throw
   * ENOMEM, and for a size no handle block can have here (past the arena's
   * reservation or the handle area), as {@link Arena.tryAlloc} returns null.
   * Bad arguments still throw.
   */
  tryAllocHandle(size: number, align?: number): number {
    if (!Arena.#is(this)) throw notArena();
    try {
      return this.allocHandle(size, align);
    } catch (e) {
      if (isNoMemory(e)) return -1;
      if (tooLarge(this.#heap, size, align, e, handleLimit())) return -1;
      throw e;
    }
  }

  /**
   * Frees a handle block. Refuses (TypeError `ERR_INVALID_ARG_VALUE`, before
   * anything is written) a number that is not the start of a live handle
   * block of this arena: freed already, never handed out, inside a block,
   * past the arena. (As in C, a stale handle whose block was handed out
   * again at the same offset is the new block's handle.)
   */
  freeHandle(handle: number): void {
    if (!Arena.#is(this)) throw notArena();
    const hs = this.#heap.handles;
    if (hs === null) throw noHandle(this.#heap, handle);
    hs.free(handle);
  }

  /** Usable bytes of a live handle block: its size class, or its whole pages. Refuses other numbers like {@link Arena.freeHandle}. */
  sizeOfHandle(handle: number): number {
    if (!Arena.#is(this)) throw notArena();
    const hs = this.#heap.handles;
    if (hs === null) throw noHandle(this.#heap, handle);
    return hs.usable(handle);
  }

  /**
   * Resizes a live handle block to `size` bytes, keeping its contents up to
   * the smaller size; returns the handle to use from now on (the same one
   * when the block's class or pages allow, or when free pages follow it).
   * On failure (ENOMEM) the old block is untouched.
   */
  reallocHandle(handle: number, size: number): number {
    if (!Arena.#is(this)) throw notArena();
    const hs = this.#heap.handles;
    if (hs === null) throw noHandle(this.#heap, handle);
    return reallocHandle(hs, handle, size);
  }

  /**
   * A `Uint8Array` over the arena's committed memory (at most its first
   * 4 GiB on Node 20): `heap[h + i]` is byte `i` of handle `h`. Replaced by
   * a new one when the arena commits more (read it again after allocating,
   * as `WebAssembly.Memory.buffer`); an old one stays readable over the
   * memory it covered. Bytes of freed blocks read as whatever is there (old
   * bytes, or zero after a purge), never a crash: the memory stays mapped
   * read-write while the arena lives.
   */
  get heap(): Uint8Array {
    if (!Arena.#is(this)) throw notArena();
    return handlesOf(this.#heap).heapView();
  }

  /** A `DataView` over the same memory as {@link Arena.heap} (replaced with it). */
  get data(): DataView {
    if (!Arena.#is(this)) throw notArena();
    const hs = handlesOf(this.#heap);
    hs.heapView();
    return hs.dv;
  }

  /**
   * A `Uint8Array` window over a live handle block: `length` bytes
   * (default: its usable size, {@link Arena.sizeOfHandle}). One object per
   * call: for interop, not for the hot path.
   */
  bytes(handle: number, length?: number): Uint8Array {
    if (!Arena.#is(this)) throw notArena();
    const hs = this.#heap.handles;
    if (hs === null) throw noHandle(this.#heap, handle);
    const usable = hs.usable(handle);
    const at = hs.at;
    const n = length === undefined ? usable : checkArenaInteger('length', length, 0, usable);
    hs.heapView();
    return new Uint8Array(hs.buf!, at, n);
  }

  /**
   * The byte offset in {@link Arena.heap} of a live handle block, checked
   * like {@link Arena.freeHandle}: the handle itself, or with
   * `handleGenerations` the handle without its generation (a stale handle
   * is refused there, so `heap[arena.offsetOfHandle(h)]` is a checked access).
   */
  offsetOfHandle(handle: number): number {
    if (!Arena.#is(this)) throw notArena();
    const hs = this.#heap.handles;
    if (hs === null) throw noHandle(this.#heap, handle);
    hs.locate(handle);
    return hs.at;
  }

  /** Detaches every view and unmaps the reservation. Calling it again does nothing. */
  close(): void {
    if (!Arena.#is(this)) throw notArena();
    const h = this.#heap;
    if (h.closed) return;
    h.closed = true;
    if (h.timer !== null) {
      clearIntervalOf(h.timer);
      h.timer = null;
    }
    forget(h);
    h.runs.reset(0, true);
    h.committed = 0;
    nMunmap(h.region);
  }

  /** `using arena = new Arena()` closes it at the end of the block. */
  [Symbol.dispose](): void {
    if (!Arena.#is(this)) throw notArena();
    this.close();
  }

  /** @internal */
  [inspect.custom](): string {
    if (!Arena.#is(this)) return 'Arena <not an arena>';
    const h = this.#heap;
    if (h.closed) return 'Arena { closed }';
    return `Arena { reserved: ${h.reserve}, committed: ${h.committed}, allocated: ${h.allocated}, chunk: ${h.chunkBytes} }`;
  }
}

/** Whether `alloc` (or `allocHandle`, with the handle area's `limit`) refused only because `size` (a valid count of bytes) is more than any block here can hold. */
function tooLarge(h: Heap, size: unknown, align: unknown, e: unknown, limit = maxArrayBufferLength()): boolean {
  if ((e as { code?: unknown }).code !== 'ERR_OUT_OF_RANGE' || typeof size !== 'number' || !Number.isInteger(size)) return false;
  if (size <= Math.min(h.reserve, limit)) return false;
  return align === undefined || (typeof align === 'number' && Number.isSafeInteger(align) && align >= 1 && (align & (align - 1)) === 0);
}
