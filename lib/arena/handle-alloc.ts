/**
 * The checked entry points of the arena by handle that are not its fast
 * path: the general allocation (size and alignment checked, then a slot or a
 * page run) and `reallocHandle`.
 * @internal
 */
import { outOfRange } from '../errors';
import { ceil, isInteger, log2, min } from './intrinsics';
import { checkArenaInteger } from './checks';
import { GEN_UNIT } from './handle-ids';
import { type HandleSpace } from './handles';

const copyWithinOf = Function.prototype.call.bind(Uint8Array.prototype.copyWithin) as unknown as (
  view: Uint8Array, target: number, start: number, end: number,
) => Uint8Array;

/** The class for a small handle of `size` bytes aligned to `align` (a power of two), or -1 for a page run. */
export function classFor(hs: HandleSpace, size: number, align: number): number {
  if (size > hs.smallMax) return -1;
  let c = hs.byQuantum[(size + 15) >>> 4]!;
  if (align > 16) {
    if (align > hs.page) return -1;
    while (c < hs.count && hs.sizes[c]! % align !== 0) c++;
    if (c >= hs.count) return -1;
  }
  return c;
}

/** The general allocation path: checks `size` and `align`, then a slot or a page run. */
export function allocHandleSlow(hs: HandleSpace, size: unknown, align: unknown): number {
  hs.h.live();
  const n = checkArenaInteger('size', size, 0, hs.limit);
  let a = 16;
  if (align !== undefined) {
    a = checkArenaInteger('align', align, 1, hs.limit);
    if (!isInteger(log2(a))) throw outOfRange('align', `a power of two <= ${hs.limit}`, a);
  }
  const c = classFor(hs, n, a);
  if (c >= 0) return hs.allocSmall(c);
  return hs.allocLarge(n, a > hs.page ? a / hs.page : 1);
}

/** `reallocHandle`: in place when the class (or the page count, or a free run right after) allows, else allocate, copy, free. */
export function reallocHandle(hs: HandleSpace, x: unknown, size: unknown): number {
  const h = hs.h;
  h.live();
  const s = hs.locate(x);
  const at = hs.at;
  const n = checkArenaInteger('size', size, 0, hs.limit);
  let old: number;
  if (s >= 0) {
    const c = hs.sClass[s]!;
    if (classFor(hs, n, 16) === c) return x as number;
    old = hs.sizes[c]!;
  } else {
    const pages = -1 - s;
    old = pages * hs.page;
    if (n > hs.smallMax) {
      const want = ceil(n / hs.page);
      if (want <= pages) return x as number;
      const p = at >>> hs.pageShift;
      h.settle();
      if (p + want <= hs.tagCap && h.runs.extend(p, want - pages)) {
        h.runs.claim(p + pages, want - pages);
        h.noteTaken();
        hs.tag[p] = -want;
        h.allocated += (want - pages) * hs.page;
        return x as number;
      }
    }
  }
  // Allocated first: a failure leaves the old block as it was.
  const y = allocHandleSlow(hs, n, undefined);
  const heap = hs.heapView();
  copyWithinOf(heap, hs.checked ? y % GEN_UNIT : y, at, at + min(old, n));
  hs.free(x);
  return y;
}
