/**
 * The arena's state and the operations every kind of block shares: the
 * reservation and its commits, the segments and buffers blocks are viewed
 * through, the checks that tie a view to a live block, and the retention
 * accounting (free dirty pages kept for reuse, the `retain` bound, the
 * decay timer).
 *
 * Layout. The reservation is one Region (native/region.h). Commit grows
 * contiguously from its start with `mprotect(READ|WRITE)`, a chunk at a
 * time, so the committed part stays one VMA (adjacent RW ranges merge) and
 * the mapping count stays at two or three however much is committed.
 *
 * A Heap is reachable only through a private field of its {@link Arena}
 * (arena.ts) and never escapes to a caller: its fields are plain for speed
 * and for the other files of the arena (slabs.ts, runs.ts, purge.ts,
 * stats.ts, view-checks.ts, guard-pages.ts), which are functions over it.
 * Its tables are arrays without a
 * prototype (see intrinsics.ts).
 * @internal
 */
import { type RegionHandle } from '../native/binding';
import { pageSize } from '../kernel/system';
import { rusageRaw } from '../process/rusage';
import { invalidState, systemError } from '../errors';
import { arenaClasses } from './classes';
import { PageRuns } from './pages';
import { abByteLengthOf, BigIntOf, ceil, F64, floor, log2, max, min, NumberOf, table } from './intrinsics';
import { blockView, IdStack, K_CHUNK, K_SLAB, OwnedBuffer, Segment, type OwnBlock, type Owner, type Slab } from './owners';
import { type ArenaConfig, GROW_MAX } from './options';
import type { HandleSpace } from './handles';
import { C, nMadvise, nMmap, nMprotect, nMunmap, nRegionAddress, nRegionBuffer, nSetName } from './calls';
import { populate } from './guard-pages';

/** The size classes, computed once at load (the page size is fixed). */
export const CLASSES = arenaClasses(pageSize());

const WeakRefOf = WeakRef;
const setIntervalOf = setInterval;
const queueMicrotaskOf = queueMicrotask;
export const clearIntervalOf = clearInterval;
/** Runs a heap's decay; false when its timer should stop (set by purge.ts with {@link setDecayTick}). */
let decayTick: (h: Heap) => boolean;
/** Gives back the queued pages, errors kept quiet (set by purge.ts: `flushQuiet`). */
let flushTick: (h: Heap) => void;
export function setDecayTick(tick: (h: Heap) => boolean, flush: (h: Heap) => void): void {
  decayTick = tick;
  flushTick = flush;
}
function flushLater(h: Heap): void {
  h.flushQueued = false;
  flushTick(h);
}
/** Queued give-backs at most (IOV_MAX: one process_madvise). */
export const MAX_PENDING = 1024;
function onDecayTimer(this: NodeJS.Timeout, ref: WeakRef<Heap>): void {
  const h = ref.deref();
  if (h === undefined || !decayTick(h)) clearIntervalOf(this);
}

/** ENOMEM with no `syscall`: the arena could not place a block (no one call failed). */
function noMemory(message: string): Error {
  return systemError('ENOMEM', null, message);
}

export function isNoMemory(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOMEM';
}

/** The state of one arena. */
export class Heap {
  readonly region: RegionHandle;
  readonly regionLength: number;
  /** Byte offset of the arena space in the region (THP alignment). */
  readonly start: number;
  readonly page: number;
  /** Absolute page number of the arena start, for aligned runs. */
  readonly phase: number;
  readonly chunkBytes: number;
  readonly chunkPages: number;
  readonly reserve: number;
  readonly slabBytes: number;
  readonly slabPages: number;
  /** Class sizes, ascending. */
  readonly sizes: Uint32Array;
  readonly classCount: number;
  readonly smallMax: number;
  readonly byQuantum: Uint8Array;
  readonly purgeAdvice: number;
  readonly purgeCleans: boolean;
  readonly prefaultChunks: boolean;
  readonly hugeAdvice: number;
  readonly vmaName: string | null;
  readonly faultBase: number;
  readonly pageShift: number;
  /**
   * The bound on retained pages. With `retain` given, that many bytes in
   * whole pages; else (`retainAuto`) the larger of `retainFloorPages` and
   * the peak of pages in use since the last purge: the bound follows the
   * workload, as jemalloc's dirty decay and mimalloc's purge delay do.
   */
  retainPages: number;
  readonly retainAuto: boolean;
  readonly retainFloorPages: number;
  /** Most pages in use (committed minus free) since the last `purge()`/`reset()`. */
  peakPages = 0;
  /** Handle blocks (handles.ts), made on first use. */
  handles: HandleSpace | null = null;
  /** `handleGenerations`: checked handles. */
  readonly handleGenerations: boolean;
  /** Slab pages that may be retained before the bound is checked exactly: `retainPages` minus the runs' dirty pages. */
  slabCheckAt = 0;
  readonly decayMs: number;
  timer: NodeJS.Timeout | null = null;
  /**
   * Fewest dirty free pages seen since the decay timer last ran: of runs
   * and of slabs, tracked apart (the slab one on the small-block fast path).
   */
  dirtyMin = 0;
  slabMin = 0;
  /** Pages of slabs that hold no live block and may be dirty. */
  slabDirtyFree = 0;
  /** With `purge: 'free'`: free run pages advised already (not known zero). */
  advised = 0;
  /**
   * Free runs past the `retain` bound whose give-back is queued: given back
   * together (one process_madvise) before the next page is taken, at the end
   * of the burst of frees (a microtask), or by `purge`/`reset`/`stats`.
   * Until then they are still dirty in `runs` and left out of the bound.
   */
  readonly pendP: number[] = [];
  readonly pendN: number[] = [];
  pendingPages = 0;
  flushQueued = false;
  /** Free bytes in slabs, by class. */
  readonly classFree: Float64Array;
  slabCount = 0;
  slabBookBytes = 0;
  ownCount = 0;
  /** Live medium blocks (views of a segment's buffer). */
  runViews = 0;
  readonly slabsByClass: Float64Array;
  lazy: PropertyDescriptorMap | undefined;
  readonly runs = new PageRuns();
  committed = 0;
  allocated = 0;
  closed = false;
  /** The segment of each committed chunk, by chunk index. */
  segOf = table<Segment>();
  segments = 0;
  /** Largest commit made at once to grow the arena, in chunks. */
  readonly growCap: number;
  slabs = table<Slab>();
  /** Ids of released slabs and freed large blocks, for reuse (stacks; no array `length` writes). */
  freeSlabIds = new IdStack();
  readonly current = table<Slab | null>();
  /** Head of each class's list of partly free slabs (linked through the slabs). */
  readonly partial = table<Slab | null>();
  own = table<OwnBlock>();
  freeOwnIds = new IdStack();
  /** Guard pages after each page-run block (`guardPages`); 0 for none. */
  readonly guard: number;
  /** Live blocks with guard pages after them. */
  guardBlocks = 0;
  /** Runs of freed own blocks set aside while a buffer moved out of the arena may reach them: first page, pages. */
  asideP: number[] = [];
  asideN: number[] = [];

  /** Maps the reservation for the settings `cfg` (checked already). */
  constructor(cfg: ArenaConfig) {
    const { page, unit, huge, chunk, maxChunk, reserve, prefault, vmaName, retain, retainAuto, decay, purge, guardPages } = cfg;
    this.guard = guardPages;
    this.handleGenerations = cfg.handleGenerations;
    this.page = page;
    this.chunkBytes = chunk;
    this.chunkPages = chunk / page;
    this.reserve = reserve;
    this.slabBytes = CLASSES.slabBytes;
    this.slabPages = this.slabBytes / page;
    this.sizes = CLASSES.sizes;
    this.classCount = CLASSES.count;
    this.smallMax = CLASSES.max;
    this.byQuantum = CLASSES.byQuantum;
    for (let c = 0; c < this.classCount; c++) {
      this.current[c] = null;
      this.partial[c] = null;
    }
    this.purgeAdvice = purge === 'free' ? C.MADV_FREE : C.MADV_DONTNEED;
    this.purgeCleans = purge === 'dontneed';
    this.prefaultChunks = prefault;
    this.growCap = max(1, floor(min(GROW_MAX, maxChunk) / chunk));
    this.pageShift = log2(page);
    this.retainPages = floor(retain / page);
    this.retainAuto = retainAuto;
    this.retainFloorPages = this.retainPages;
    this.slabCheckAt = this.retainPages;
    this.decayMs = decay;
    this.classFree = new F64(CLASSES.count);
    this.slabsByClass = new F64(CLASSES.count);
    this.hugeAdvice = huge === true ? C.MADV_HUGEPAGE : huge === false ? C.MADV_NOHUGEPAGE : -1;

    // Huge pages: reserve one more THP so the arena can start on a boundary.
    this.regionLength = reserve + (huge ? unit : 0);
    const region = nMmap(this.regionLength, C.PROT_NONE, C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_NORESERVE, -1, 0, 0n, 0);
    const address = nRegionAddress(region);
    this.start = huge ? (unit - NumberOf(address % BigIntOf(unit))) % unit : 0;
    this.phase = NumberOf((address + BigIntOf(this.start)) / BigIntOf(page));
    this.region = region;
    this.vmaName = vmaName;
    try {
      this.adviseRange(0, this.regionLength);
    } catch (e) {
      nMunmap(region);
      throw e;
    }
    const ru = rusageRaw(C.RUSAGE_THREAD);
    this.faultBase = ru[0]! + ru[1]!;
  }

  /** Applies the huge page advice and the name to a (re)mapped part of the region. */
  adviseRange(offset: number, length: number): void {
    if (length === 0) return;
    if (this.hugeAdvice >= 0) nMadvise(this.region, offset, length, this.hugeAdvice);
    if (this.vmaName !== null) nSetName(this.region, offset, length, this.vmaName);
  }

  /**
   * The view of a block of `owner`. Where someone else detached the owner's
   * buffer (`transfer()` moves its memory into a buffer pagewise never saw;
   * the native layer keeps that memory mapped and writable while it lives),
   * the owner gets a new buffer over the same pages: the arena goes on, and
   * the transferred buffer is like a stale view (it may see memory the
   * arena hands out again).
   */
  view(owner: Owner, offset: number, length: number, index: number): Uint8Array {
    const buf = owner.kind === K_CHUNK ? this.segBuffer(owner) : owner.buf;
    // The arena's buffers are never empty: length 0 means detached. (A
    // check, not a try/catch, which cost time on every allocation:
    // BENCHMARKS.md, "Figures behind the arena's code".)
    if (abByteLengthOf(buf) !== 0) return blockView(buf, offset, length, owner, index);
    const page = this.page;
    const at = owner.kind === K_SLAB ? owner.page * page : owner.kind === K_CHUNK ? owner.index * this.chunkBytes : owner.page * page;
    const bytes = owner.kind === K_SLAB ? this.slabBytes : owner.kind === K_CHUNK ? owner.chunks * this.chunkBytes : owner.pages * page;
    const fresh = nRegionBuffer(this.region, this.start + at, bytes);
    OwnedBuffer.tag(fresh, owner);
    owner.buf = fresh;
    return blockView(fresh, offset, length, owner, index);
  }

  segBuffer(seg: Segment): ArrayBuffer {
    if (seg.buf !== null) return seg.buf;
    const buf = nRegionBuffer(this.region, this.start + seg.index * this.chunkBytes, seg.chunks * this.chunkBytes);
    OwnedBuffer.tag(buf, seg);
    seg.buf = buf;
    return buf;
  }

  /** Gives back the queued runs before free pages are taken (an allocation, a realloc growing in place). */
  settle(): void {
    if (this.pendingPages > 0) flushTick(this);
  }

  /** Takes `n` pages from free runs, committing chunks when none fits. */
  takeRun(n: number, kind: number, alignPages: number): number {
    this.settle();
    let p = this.runs.take(n, kind, alignPages, this.phase);
    if (p < 0) {
      const need = alignPages > 1 ? n + alignPages - 1 : n;
      const missing = (need - this.runs.freeTail()) * this.page;
      this.commit(ceil(missing / this.chunkBytes), true);
      p = this.runs.take(n, kind, alignPages, this.phase);
      if (p < 0) throw new Error(`pagewise: arena bookkeeping found no run of ${n} pages after committing (a bug)`);
    }
    const used = this.runs.pages - this.runs.freePages;
    if (used > this.peakPages) this.notePeak(used);
    return p;
  }

  /** A new peak of pages in use: with the automatic bound, the retain bound follows it. */
  notePeak(used: number): void {
    this.peakPages = used;
    if (this.retainAuto) {
      this.retainPages = max(this.retainFloorPages, used);
      this.syncBound();
    }
  }

  /** Forgets the peak (after `purge()`/`reset()`): the bound starts again from what is in use now. */
  resetPeak(): void {
    this.peakPages = 0;
    if (this.retainAuto) this.retainPages = this.retainFloorPages;
    this.notePeak(this.runs.pages - this.runs.freePages);
    this.syncBound();
  }

  /**
   * Commits `count` more chunks at the committed end; with `grow`, up to
   * half as much again as is committed already (at most `growCap` chunks),
   * so the number of commits and segments is logarithmic in the arena's
   * size. Commit costs no memory until pages are touched (and no charge on a
   * NORESERVE reservation under overcommit 0/1); when the kernel refuses the
   * larger commit, exactly `count` chunks are tried. Nothing changes if the
   * kernel refuses.
   */
  commit(count: number, grow: boolean): void {
    const cb = this.chunkBytes;
    const have = this.committed / cb;
    const room = this.reserve / cb - have;
    if (count > room) {
      throw noMemory(
        `The arena's reservation is full: ${this.committed} of ${this.reserve} bytes committed, ${count * cb} more needed. ` +
          'Reserve more address space: new Arena({ reserve })',
      );
    }
    let n = count;
    if (grow && !this.prefaultChunks) n = min(room, max(count, min(have >>> 1, this.growCap)));
    const at = this.committed;
    try {
      nMprotect(this.region, this.start + at, n * cb, C.PROT_READ | C.PROT_WRITE);
    } catch (e) {
      if (n === count || !isNoMemory(e)) throw e;
      n = count;
      nMprotect(this.region, this.start + at, n * cb, C.PROT_READ | C.PROT_WRITE);
    }
    const bytes = n * cb;
    this.committed += bytes;
    this.runs.grow(bytes / this.page);
    this.addSegments(have, n);
    if (this.prefaultChunks) populate(this, at, bytes);
  }

  /** Segments for `n` chunks from chunk `first`, each at most `growCap` chunks. */
  addSegments(first: number, n: number): void {
    for (let c = first; c < first + n; ) {
      const k = min(first + n - c, this.growCap);
      const seg = new Segment(c, k);
      for (let i = c; i < c + k; i++) this.segOf[i] = seg;
      this.segments++;
      c += k;
    }
  }

  /** Free dirty pages (retained): runs (queued for give-back included) and slab pages with no live block. */
  dirtyPages(): number {
    return this.runsDirty() + this.pendingPages + this.slabDirtyFree + (this.handles === null ? 0 : this.handles.emptySlabs * this.slabPages);
  }

  /** Free dirty pages of runs (not advised already). */
  runsDirty(): number {
    const runs = this.runs;
    let d = runs.freePages - runs.cleanFree - this.pendingPages;
    if (this.advised > 0) {
      if (this.advised > d) this.advised = d;
      d -= this.advised;
    }
    return d;
  }

  /** Called after dirty free run pages were taken: the decay's low-water mark. */
  noteTaken(): void {
    const d = this.runsDirty();
    if (d < this.dirtyMin) this.dirtyMin = d;
    this.slabCheckAt = this.retainPages - d;
  }

  /** Recomputes the slab share of the bound after the runs' dirty pages changed. */
  syncBound(): void {
    this.slabCheckAt = this.retainPages - this.runsDirty();
  }

  /** Whether the retained pages now pass the `retain` bound; else arms the decay. */
  overRetain(): boolean {
    if (this.slabDirtyFree + this.runsDirty() > this.retainPages) return true;
    if (this.timer === null && this.decayMs > 0) this.armDecay();
    return false;
  }

  /** A run of `n` pages at `p` was just freed (dirty): kept, or given back past the bound. */
  freedRun(p: number, n: number): void {
    if (this.overRetain()) {
      const k = this.pendP.length;
      this.pendP[k] = p;
      this.pendN[k] = n;
      this.pendingPages += n;
      if (k + 1 >= MAX_PENDING) flushTick(this);
      else if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotaskOf(() => flushLater(this));
      }
    }
    this.syncBound();
  }

  /** Pages `[first, last]` of slab `s` just lost their last live block: kept, or given back past the bound. */
  freedSlabPages(s: Slab, first: number, last: number): void {
    if (!this.overRetain()) return;
    const page = this.page;
    nMadvise(this.region, this.start + (s.page + first) * page, (last - first + 1) * page, this.purgeAdvice);
    for (let i = first; i <= last; i++) s.st[i] = -1;
    this.slabDirtyFree -= last - first + 1;
  }

  /** Starts the decay timer (it holds the heap weakly and does not keep the process alive). */
  armDecay(): void {
    const t = setIntervalOf(onDecayTimer, this.decayMs, new WeakRefOf(this));
    t.unref();
    this.timer = t;
    this.dirtyMin = this.runsDirty();
    this.slabMin = this.slabDirtyFree;
  }


  /** Throws once the arena is closed. */
  live(): void {
    if (this.closed) throw invalidState('The arena is closed');
  }
}
