/**
 * Small blocks: size classes (classes.ts), each served from slabs of 64 KiB
 * (at least one page). A slab has its own external ArrayBuffer, made once
 * when the slab is carved; a block is a `Uint8Array` over it, and a bitmap
 * (one bit per block, 1 = free) is both the free list and the double-free
 * check. Each slab counts the live blocks on each of its pages, so a page
 * with no live block is retained or given back while the slab lives.
 * @internal
 */
import { invalidValue } from '../errors';
import { abByteLengthOf, clz32, fillOf, floor, U32 } from './intrinsics';
import { SLAB } from './pages';
import { Block, blockView, OwnedBuffer, Slab } from './owners';
import { type Heap } from './heap';
import { nDetach, nRegionBuffer } from './calls';
import { notLive } from './view-checks';

/** Rough heap cost of a slab's bookkeeping object, for `bookkeepingBytes`. */
export const SLAB_OBJECT_BYTES = 160;

/** A block of class `cls` for `size` bytes: the small-block fast path (one bitmap scan and one view, no system call). */
export function small(h: Heap, cls: number, size: number): Uint8Array {
  let slab = h.current[cls]!;
  if (slab === null || slab.free === 0) slab = refill(h, cls);
  const bits = slab.bits;
  let w = slab.hint;
  let x = bits[w]!;
  while (x === 0) x = bits[++w]!;
  slab.hint = w;
  const low = x & -x;
  bits[w] = x ^ low;
  slab.free--;
  const sz = slab.size;
  h.allocated += sz;
  h.classFree[cls]! -= sz;
  const idx = (w << 5) + 31 - clz32(low);
  const a0 = idx * sz;
  const st = slab.st;
  let p = a0 >>> h.pageShift;
  const pe = (a0 + sz - 1) >>> h.pageShift;
  do {
    const c = st[p]!;
    if (c > 0) st[p] = c + 1;
    else {
      // The page is in use again (and written from now on): if it was
      // free and dirty it leaves the retained count (low-water mark for
      // the decay: a field compare, no call).
      st[p] = 1;
      if (c === 0 && --h.slabDirtyFree < h.slabMin) h.slabMin = h.slabDirtyFree;
    }
  } while (++p <= pe);
  const buf = slab.buf;
  if (abByteLengthOf(buf) !== 0) return blockView(buf, a0, size, slab, idx);
  return h.view(slab, a0, size, idx);
}

/** Makes a slab with free blocks the current one of its class. */
export function refill(h: Heap, cls: number): Slab {
  h.live();
  for (let s = h.partial[cls]!; s !== null; s = h.partial[cls]!) {
    unlist(h, s);
    if (h.slabs[s.id] === s && s.free > 0) {
      h.current[cls] = s;
      return s;
    }
  }
  const size = h.sizes[cls]!;
  const p = h.takeRun(h.slabPages, SLAB, 1);
  let buf: ArrayBuffer;
  try {
    buf = nRegionBuffer(h.region, h.start + p * h.page, h.slabBytes);
  } catch (e) {
    h.runs.release(p);
    throw e;
  }
  const count = floor(h.slabBytes / size);
  const words = (count + 31) >>> 5;
  const bits = fillOf(new U32(words), 0xffffffff) as Uint32Array;
  if (count % 32 !== 0) bits[words - 1] = 2 ** (count % 32) - 1;
  const id = h.freeSlabIds.pop(h.slabs.length);
  const s = new Slab(id, cls, size, count, p, buf, bits, h.slabPages);
  // Pages known zero stay clean; the others are free and may be dirty.
  const clean = h.runs.clean;
  for (let i = 0; i < h.slabPages; i++) {
    if (clean[p + i] === 0) {
      s.st[i] = 0;
      h.slabDirtyFree++;
    }
  }
  h.runs.claim(p, h.slabPages);
  h.noteTaken();
  h.classFree[cls]! += count * size;
  h.slabCount++;
  h.slabsByClass[cls]!++;
  h.slabBookBytes += SLAB_OBJECT_BYTES + words * 4 + h.slabPages * 4;
  OwnedBuffer.tag(buf, s);
  h.slabs[id] = s;
  h.current[cls] = s;
  return s;
}

/** Frees the small block `view` of slab `owner` (refused if the slab is not live or the block is free). */
export function freeSmall(h: Heap, view: Uint8Array, owner: Slab): void {
  if (h.slabs[owner.id] !== owner) throw notLive(h, view);
  const idx = Block.index(view);
  const w = idx >>> 5;
  const bit = 1 << (idx & 31);
  const x = owner.bits[w]!;
  if (x & bit) throw invalidValue('view', 'was already freed (double free)', view);
  owner.bits[w] = x | bit;
  if (w < owner.hint) owner.hint = w;
  const sz = owner.size;
  h.allocated -= sz;
  h.classFree[owner.cls]! += sz;
  const a0 = idx * sz;
  const st = owner.st;
  const pe = (a0 + sz - 1) >>> h.pageShift;
  let p = a0 >>> h.pageShift;
  let first = -1;
  let last = -1;
  do {
    if (--st[p]! === 0) {
      h.slabDirtyFree++;
      if (first < 0) first = p;
      last = p;
    }
  } while (++p <= pe);
  const free = ++owner.free;
  if (first >= 0) {
    // Past the bound's slab share (kept current by the run paths): give
    // these pages back (an exact check first); else make sure the decay runs.
    if (h.slabDirtyFree > h.slabCheckAt) h.freedSlabPages(owner, first, last);
    else if (h.timer === null && h.decayMs > 0) h.armDecay();
  }
  if (h.current[owner.cls] !== owner) {
    if (free === owner.count) releaseSlab(h, owner);
    else if (!owner.listed) list(h, owner);
  }
}

/** Puts a slab at the head of its class's partial list. */
export function list(h: Heap, s: Slab): void {
  const head = h.partial[s.cls]!;
  s.listed = true;
  s.prevP = null;
  s.nextP = head;
  if (head !== null) head.prevP = s;
  h.partial[s.cls] = s;
}

/** Takes a slab out of its class's partial list. */
export function unlist(h: Heap, s: Slab): void {
  if (s.prevP !== null) s.prevP.nextP = s.nextP;
  else h.partial[s.cls] = s.nextP;
  if (s.nextP !== null) s.nextP.prevP = s.prevP;
  s.prevP = s.nextP = null;
  s.listed = false;
}

/** Returns a slab whose blocks are all free to the page runs; its buffer is detached. */
export function releaseSlab(h: Heap, s: Slab): void {
  h.slabs[s.id] = undefined as unknown as Slab;
  h.classFree[s.cls]! -= s.count * s.size;
  h.slabCount--;
  h.slabsByClass[s.cls]!--;
  h.slabBookBytes -= SLAB_OBJECT_BYTES + ((s.count + 31) >>> 5) * 4 + h.slabPages * 4;
  h.freeSlabIds.push(s.id);
  if (s.listed) unlist(h, s);
  // Stale views of this slab's blocks read as length 0 from now on.
  nDetach(s.buf);
  h.runs.release(s.page);
  // Its pages are free run pages now: dirty ones leave the slab count,
  // purged ones are known zero (with 'dontneed').
  for (let i = 0; i < h.slabPages; i++) {
    if (s.st[i] === 0) h.slabDirtyFree--;
    else if (h.purgeCleans) h.runs.markClean(s.page + i, 1);
  }
  h.syncBound();
}
