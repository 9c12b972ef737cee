/**
 * Guard pages after page-run blocks (`guardPages`) and prefaulting committed
 * space around them (`prefault`, `reset({ prefault })`).
 * @internal
 */
import { invalidState } from '../errors';
import { adviceSupported } from '../mapping/flags';
import { type Heap } from './heap';
import { OWN } from './pages';
import { floor, max, min, U8 } from './intrinsics';
import { C, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE, nDetach, nMadvise, nRegionBuffer, nRegionEscaped } from './calls';

/**
 * Installs the guard pages after a block: pages `[p, p + guard)`, just
 * taken with the block's run. Refused (`ERR_INVALID_STATE`) where a
 * buffer moved out of the arena with `transfer()` still covers them: a JS
 * access through it would kill the process.
 */
export function installGuard(h: Heap, p: number): void {
  const at = h.start + p * h.page;
  const bytes = h.guard * h.page;
  if (nRegionEscaped(h.region, at, bytes)) {
    throw invalidState('Guard pages cannot be installed after this block: a buffer moved out of the arena with transfer() covers their pages');
  }
  nMadvise(h.region, at, bytes, MADV_GUARD_INSTALL);
  h.guardBlocks++;
}

/** Removes the guard pages `[p, p + guard)` of a block (they read as zero again). */
export function removeGuard(h: Heap, p: number): void {
  nMadvise(h.region, h.start + p * h.page, h.guard * h.page, MADV_GUARD_REMOVE);
  h.guardBlocks--;
}

/**
 * Prefaults `[offset, offset + length)` of the committed space, stepping
 * over guard pages (populating one is EFAULT, touching one SIGSEGV).
 */
export function populate(h: Heap, offset: number, length: number): void {
  if (h.guardBlocks === 0) {
    populateStretch(h, offset, length);
    return;
  }
  const page = h.page;
  const g = h.guard;
  const end = offset + length;
  let from = offset;
  h.runs.forEachRun((head, n, kind) => {
    if (kind !== OWN) return;
    const gs = (head + n - g) * page;
    const ge = (head + n) * page;
    if (ge <= from || gs >= end) return;
    if (gs > from) populateStretch(h, from, gs - from);
    from = ge;
  });
  if (from < end) populateStretch(h, from, end - from);
}

/** Prefaults a stretch with no guard page in it. */
function populateStretch(h: Heap, offset: number, length: number): void {
  if (adviceSupported('populate_write')) {
    nMadvise(h.region, h.start + offset, length, C.MADV_POPULATE_WRITE);
    return;
  }
  const page = h.page;
  const chunkBytes = h.chunkBytes;
  if (h.guard > 0) {
    // No segment buffer with guards (it would cover guard pages): a
    // buffer over exactly each piece of the stretch, detached after.
    for (let at = offset; at < offset + length; at += chunkBytes) {
      const len = min(chunkBytes, offset + length - at);
      const piece = nRegionBuffer(h.region, h.start + at, len);
      const u8 = new U8(piece);
      for (let i = 0; i < len; i += page) u8[i] = u8[i]!;
      nDetach(piece);
    }
    return;
  }
  for (let ci = floor(offset / chunkBytes); ci * chunkBytes < offset + length; ) {
    const seg = h.segOf[ci]!;
    const u8 = h.view(seg, 0, seg.chunks * chunkBytes, seg.index);
    const base = seg.index * chunkBytes;
    ci = seg.index + seg.chunks;
    const from = max(offset, base) - base;
    const to = min(offset + length, ci * chunkBytes) - base;
    // A write fault per page; the byte keeps its value (live blocks may be here).
    for (let i = from; i < to; i += page) u8[i] = u8[i]!;
  }
}
