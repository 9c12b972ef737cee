/**
 * Blocks of whole pages, from the page runs of {@link PageRuns} (pages.ts):
 *  - medium (whole pages, below 256 KiB): viewed through the ArrayBuffer of
 *    the segment that holds them (one per commit, made when first needed).
 *    No ArrayBuffer is created per allocation. A run that crosses a segment
 *    boundary gets its own buffer.
 *  - large (256 KiB and up): page runs with their own ArrayBuffer, made per
 *    allocation (its cost is small against the block: BENCHMARKS.md,
 *    "Figures behind the arena's code"), detached when the block is freed,
 *    so a stale view reads as length 0.
 * And the general allocation path (alignment, zeroing) and `realloc`.
 * @internal
 */
import { maxArrayBufferLength } from '../kernel/system';
import { invalidValue, outOfRange } from '../errors';
import { CLASS_QUANTUM } from './classes';
import { OWN, RUN } from './pages';
import { bufferOf, byteLengthOf, byteOffsetOf, ceil, fillOf, floor, isInteger, log2, max, min, setOf, U8 } from './intrinsics';
import { Block, K_CHUNK, K_OWN, K_SLAB, OwnBlock, OwnedBuffer, type Owner } from './owners';
import { LARGE_BLOCK_BYTES } from './options';
import { checkArenaInteger } from './checks';
import { type Heap } from './heap';
import { freeSmall, small } from './slabs';
import { nDetach, nRegionBuffer, nRegionEscaped } from './calls';
import { installGuard, removeGuard } from './guard-pages';
import { liveOwner, notAllocated, notLive } from './view-checks';

/** Rough heap cost of a large block's bookkeeping object, for `bookkeepingBytes`. */
export const OWN_OBJECT_BYTES = 64;


/** The general allocation path: checks `size` and `align`, then a small block or a page run. */
export function allocate(h: Heap, size: unknown, align: unknown, zero: boolean): Uint8Array {
  h.live();
  const n = checkArenaInteger('size', size, 0, maxArrayBufferLength());
  if (n > h.reserve) throw outOfRange('size', `<= the arena's reservation (${h.reserve} bytes)`, n);
  let a = CLASS_QUANTUM;
  if (align !== undefined) {
    a = checkArenaInteger('align', align, 1, h.reserve);
    if (!isInteger(log2(a))) throw outOfRange('align', `a power of two <= ${h.reserve}`, a);
  }
  if (n <= h.smallMax) {
    let cls = h.byQuantum[(n + CLASS_QUANTUM - 1) >>> 4]!;
    if (a > CLASS_QUANTUM) {
      // Blocks of a class sit at multiples of its size in a page-aligned
      // slab: any class whose size is a multiple of `a` is aligned to it.
      const sizes = h.sizes;
      while (cls < h.classCount && (a > h.page || sizes[cls]! % a !== 0)) cls++;
    }
    if (cls < h.classCount) {
      const view = small(h, cls, n);
      if (zero) fillOf(view, 0);
      return view;
    }
  }
  return allocRun(h, n, a > h.page ? a / h.page : 1, zero);
}

/**
 * A page run of whole pages for `size` bytes, aligned to `alignPages` pages;
 * with guard pages, the run holds them after the block's pages, and the
 * block gets its own buffer over exactly its pages.
 */
/** How many runs allocRun sets aside, at most, looking for one whose guard pages no escaped buffer covers. */
const GUARD_TRIES = 8;

/**
 * Takes a run of `n + g` pages and installs its `g` guard pages after the
 * first `n`. Pages a buffer moved out of the arena (`transfer()`, then
 * freed) may still reach cannot take a guard (a JS access through that
 * buffer would kill the process): such a run is set aside while another is
 * taken, then given back, so the allocation succeeds elsewhere.
 */
function takeGuardedRun(h: Heap, n: number, g: number, alignPages: number): number {
  const aside: number[] = [];
  try {
    for (let i = 0; ; i++) {
      const p = h.takeRun(n + g, RUN, alignPages);
      try {
        installGuard(h, p + n);
      } catch (e) {
        if (i + 1 < GUARD_TRIES && (e as { code?: unknown }).code === 'ERR_INVALID_STATE') {
          aside.push(p);
          continue;
        }
        h.runs.release(p);
        throw e;
      }
      return p;
    }
  } finally {
    for (let i = 0; i < aside.length; i++) h.runs.release(aside[i]!);
  }
}

export function allocRun(h: Heap, size: number, alignPages: number, zero: boolean): Uint8Array {
  const page = h.page;
  const g = h.guard;
  const n = max(1, ceil(size / page));
  const bytes = n * page;
  const p = g > 0 ? takeGuardedRun(h, n, g, alignPages) : h.takeRun(n, RUN, alignPages);
  const off = p * page;
  const first = floor(off / h.chunkBytes);
  let view: Uint8Array;
  try {
    const seg = h.segOf[first]!;
    if (g > 0 || bytes >= LARGE_BLOCK_BYTES || off + bytes > (seg.index + seg.chunks) * h.chunkBytes) {
      const buf = nRegionBuffer(h.region, h.start + off, bytes);
      const id = h.freeOwnIds.pop(h.own.length);
      const blk = new OwnBlock(id, p, n, buf);
      OwnedBuffer.tag(buf, blk);
      h.own[id] = blk;
      h.ownCount++;
      h.runs.retag(p, OWN);
      view = h.view(blk, 0, size, p);
    } else {
      const seg = h.segOf[first]!;
      view = h.view(seg, off - seg.index * h.chunkBytes, size, p);
      h.runViews++;
    }
  } catch (e) {
    if (g > 0) removeGuard(h, p + n);
    h.runs.release(p);
    throw e;
  }
  if (zero) zeroDirty(h, view, p, n);
  h.runs.claim(p, n + g);
  h.noteTaken();
  h.allocated += bytes;
  return view;
}

/** Writes zeros over the pages of a new block that are not known to be zero. */
export function zeroDirty(h: Heap, view: Uint8Array, p: number, n: number): void {
  const clean = h.runs.clean;
  const page = h.page;
  const length = byteLengthOf(view);
  for (let i = 0; i < n; ) {
    if (clean[p + i]) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && !clean[p + j]) j++;
    fillOf(view, 0, i * page, min(j * page, length));
    i = j;
  }
}

/** Frees a medium or large block (`owner` as read from the view; undefined: not a block). */
export function freeRun(h: Heap, view: Uint8Array, owner: Owner | undefined): void {
  const page = h.page;
  if (owner === undefined) throw notAllocated(h, view);
  if (owner.kind === K_CHUNK) {
    if (h.segOf[owner.index] !== owner) throw notLive(h, view);
    const p = Block.index(view);
    if (!h.runs.isHead(p, RUN)) throw invalidValue('view', 'was already freed (double free)', view);
    const n = h.runs.release(p);
    h.runViews--;
    h.allocated -= n * page;
    h.freedRun(p, n);
    return;
  }
  if (owner.kind !== K_OWN || h.own[owner.id] !== owner) throw notLive(h, view);
  h.own[owner.id] = undefined as unknown as OwnBlock;
  h.freeOwnIds.push(owner.id);
  h.ownCount--;
  nDetach(owner.buf);
  h.allocated -= owner.pages * page;
  // A buffer moved out of the arena (transfer()) may still reach the block's
  // pages: they are set aside, not reused, until it is gone (releaseAside).
  if (nRegionEscaped(h.region, h.start + owner.page * page, owner.pages * page)) {
    h.asideP.push(owner.page);
    h.asideN.push(owner.pages);
    return;
  }
  releaseOwnRun(h, owner.page, owner.pages);
}

/** Gives the run of a freed own block (`pages` pages at `p`, then its guard) back to the free pages. */
function releaseOwnRun(h: Heap, p: number, pages: number): void {
  const g = h.guard;
  if (g > 0) removeGuard(h, p + pages);
  h.runs.release(p);
  // Guard pages read as zero once removed.
  if (g > 0) h.runs.markClean(p + pages, g);
  h.freedRun(p, pages + g);
}

/**
 * Frees the runs set aside because an escaped buffer could reach them, for
 * those whose buffers are gone now (purge() and stats() call it). Returns how
 * many are still set aside.
 */
export function releaseAside(h: Heap): number {
  const ps = h.asideP;
  const ns = h.asideN;
  let kept = 0;
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    const n = ns[i]!;
    if (nRegionEscaped(h.region, h.start + p * h.page, n * h.page)) {
      ps[kept] = p;
      ns[kept++] = n;
    } else releaseOwnRun(h, p, n);
  }
  ps.length = kept;
  ns.length = kept;
  return kept;
}

/** realloc by a new block: allocate, copy, free the old one. */
export function move(h: Heap, view: Uint8Array, n: number): Uint8Array {
  const next = allocate(h, n, undefined, false);
  // A view whose buffer was transferred away reads as length 0: nothing to keep.
  const keep = min(n, byteLengthOf(view));
  if (keep > 0) setOf(next, new U8(bufferOf(view) as ArrayBuffer, byteOffsetOf(view), keep));
  freeBlock(h, view);
  return next;
}

/** Frees any block (`free()` after its receiver check). */
export function freeBlock(h: Heap, view: Uint8Array): void {
  const owner = typeof view === 'object' && view !== null ? Block.owner(view) : undefined;
  if (owner !== undefined && owner.kind === K_SLAB) freeSmall(h, view, owner);
  else freeRun(h, view, owner);
}

/** The usable size of a live block (see `Arena.sizeOf`). */
export function usableSize(h: Heap, view: Uint8Array): number {
  const owner = liveOwner(h, view);
  if (owner.kind === K_SLAB) return owner.size;
  return (h.runs.len[Block.index(view)]! - (owner.kind === K_OWN ? h.guard : 0)) * h.page;
}

/** Resizes a live block (see `Arena.realloc`), in place where it can. */
export function reallocBlock(h: Heap, view: Uint8Array, size: number): Uint8Array {
  h.live();
  const owner = liveOwner(h, view);
  const n = checkArenaInteger('size', size, 0, maxArrayBufferLength());
  if (n > h.reserve) throw outOfRange('size', `<= the arena's reservation (${h.reserve} bytes)`, n);
  const idx = Block.index(view);
  if (owner.kind === K_SLAB) {
    if (n <= owner.size) return h.view(owner, idx * owner.size, n, idx);
    return move(h, view, n);
  }
  const page = h.page;
  const g = owner.kind === K_OWN ? h.guard : 0;
  const pages = h.runs.len[idx]! - g;
  const need = max(1, ceil(n / page));
  if (need <= pages) {
    if (owner.kind === K_OWN) return h.view(owner, 0, n, idx);
    return h.view(owner, idx * page - owner.index * h.chunkBytes, n, idx);
  }
  // With guard pages, the new guard's pages must not be under a buffer that escaped.
  if (g > 0 && nRegionEscaped(h.region, h.start + (idx + need) * page, g * page)) return move(h, view, n);
  // Queued give-backs first: the pages it grows into may be among them.
  h.settle();
  if (!h.runs.extend(idx, need - pages)) return move(h, view, n);
  if (g > 0) {
    // The guard moves to the new end: its old pages become the block's (zero).
    removeGuard(h, idx + pages);
    installGuard(h, idx + need);
  }
  h.runs.claim(idx + pages + g, need - pages);
  h.noteTaken();
  h.allocated += (need - pages) * page;
  const off = idx * page;
  const bytes = need * page;
  if (owner.kind === K_CHUNK && bytes < LARGE_BLOCK_BYTES && off + bytes <= (owner.index + owner.chunks) * h.chunkBytes) {
    return h.view(owner, off - owner.index * h.chunkBytes, n, idx);
  }
  // The grown run needs a buffer of its own (large, or past its segment).
  const buf = nRegionBuffer(h.region, h.start + off, bytes);
  let id: number;
  if (owner.kind === K_OWN) {
    id = owner.id;
    nDetach(owner.buf);
  } else {
    id = h.freeOwnIds.pop(h.own.length);
    h.ownCount++;
    h.runViews--;
    h.runs.retag(idx, OWN);
  }
  const blk = new OwnBlock(id, idx, need, buf);
  OwnedBuffer.tag(buf, blk);
  h.own[id] = blk;
  return h.view(blk, 0, n, idx);
}
