/**
 * Blocks by handle: the arena's fast path (DESIGN.md, "Arena by handle").
 * A handle is a plain number, the block's byte offset from the arena's
 * start, so `arena.heap[h]` and `arena.data.getUint32(h)` reach the block
 * directly, as a pointer into a WebAssembly heap does.
 *
 * Everything here is typed arrays: per page a tag (which handle slab the
 * page belongs to, or the length of a handle page run at its head page), per
 * slab its base, class, free count, bitmap (1 = free slot) and list links.
 * No JS object is made per block, and the fast paths (a slot from the
 * current slab, a slot back to its slab) make no native call and no system
 * call. A GC has nothing per block to trace.
 *
 * Coexistence with the view API: both take page runs from the same
 * {@link PageRuns}; handle slabs and handle runs carry their own run kind
 * (`HANDLE`), so a stale view can never free a handle block and a handle can
 * never free a view's block (its page has no handle tag). The retention
 * bound, `purge()`, the decay timer, `reset()` and `stats()` see both.
 *
 * What a handle check refuses: anything that is not the start of a live
 * handle block of this arena (`ERR_INVALID_ARG_VALUE`), before any metadata
 * is written. What it cannot refuse (as in C): a stale handle whose block
 * was handed out again at the same offset, or another arena's handle that
 * happens to equal a live block's offset here.
 * @internal
 */
import { maxArrayBufferLength } from '../kernel/system';
import { invalidState, invalidType, invalidValue, outOfRange } from '../errors';
import { type Heap } from './heap';
import { HANDLE } from './pages';
import { abByteLengthOf, ceil, clz32, fillOf, floor, I32, isInteger, log2, max, min, setOf, U16, U8 } from './intrinsics';
import { checkArenaInteger } from './checks';
import { nRegionBuffer } from './calls';
import { addDiscardGuard } from '../process/discard';

const copyWithinOf = Function.prototype.call.bind(Uint8Array.prototype.copyWithin) as unknown as (
  view: Uint8Array, target: number, start: number, end: number,
) => Uint8Array;
const DataViewOf = DataView;

/** Returns its argument from `super()`, so {@link HeapBuffer} can stamp a private field on a buffer. */
class Stamp {
  constructor(target: object) {
    return target;
  }
}

/**
 * The `heap` buffers, marked by a private field (as `OwnedBuffer` marks the
 * view API's buffers): a caller cannot set or remove the mark.
 */
class HeapBuffer extends Stamp {
  #heap = true;
  static tag(buf: ArrayBuffer): void {
    new HeapBuffer(buf);
  }
  static is(buf: unknown): boolean {
    return typeof buf === 'object' && buf !== null && #heap in buf;
  }
}

// discard() (lib/process/discard.ts) of a heap, a bytes() window or any view
// over a heap buffer would zero every handle block in the pages it covers.
addDiscardGuard((_target, ab) =>
  HeapBuffer.is(ab)
    ? "it is an Arena's heap, which holds every handle block's bytes; free the blocks with freeHandle() and call arena.purge()"
    : null,
);

/**
 * A checked handle is `(epoch * 65536 + generation) * GEN_UNIT + offset`:
 * generation 1..MAX_GEN of the 16-byte granule the block starts at (bumped
 * each time a block starting there is freed, whatever its kind or class),
 * epoch 0..31 counting `reset()`s (which free every block at once).
 */
export const GEN_UNIT = 2 ** 32;
const MAX_GEN = 65535;
const EPOCHS = 32;

/** Empty slabs kept per class (see `HandleSpace.emptySlabs`): at most 4 x 26 x 64 KiB = 6.5 MiB with 4K pages. */
const KEEP_EMPTY = 4;

/** Offsets of handle blocks stay below this: one `heap` buffer reaches every block, and `h >>> 0` checks a handle. */
export function handleLimit(): number {
  return min(maxArrayBufferLength(), 2 ** 32);
}

/** The handle state of one arena (created on first use). @internal */
export class HandleSpace {
  readonly h: Heap;
  readonly limit: number;
  readonly page: number;
  readonly pageShift: number;
  readonly slabBytes: number;
  readonly slabPages: number;
  /** Bitmap words per slab (enough for the smallest class). */
  readonly words: number;
  /** Summary words per slab: bit j of summary word k says bitmap word 32k + j has a free slot. */
  readonly sumWords: number;
  readonly sizes: Uint32Array;
  readonly count: number;
  readonly smallMax: number;
  readonly byQuantum: Uint8Array;
  /** Slots per slab and bitmap words in use, by class. */
  readonly slots: Int32Array;
  /**
   * Checked handles (`handleGenerations`): each slot and each handle run
   * has a generation, bumped when its block is freed, and a handle carries
   * the generation of its block, so a stale handle is refused even after its
   * memory was handed out again.
   */
  readonly checked: boolean;
  /** Generation per 16-byte granule of the handle area (`offset >>> 4`); 0 reads as 1. */
  gen = new U16(0);
  /** `reset()`s so far, modulo EPOCHS. */
  epoch = 0;
  /** The offset the last {@link locate} found. */
  at = 0;

  /** The checked handle of a block just handed out at `off`. */
  issue(off: number): number {
    const k = off >>> 4;
    let g = this.gen[k]!;
    if (g === 0) this.gen[k] = g = 1;
    return (this.epoch * 65536 + g) * GEN_UNIT + off;
  }
  /** Per page: slab id + 1 (every page of a handle slab), -pages (head of a handle run), 0 otherwise. */
  tag = new I32(0);
  tagCap = 0;
  // Per slab id.
  /** First page of each slab (its base offset is `sPage << pageShift`, times `page` past 2^31). */
  sPage = new I32(0);
  sClass = new U8(0);
  sFree = new I32(0);
  /** A summary word at or below the slab's lowest one with a free slot. */
  sHint = new I32(0);
  sNext = new I32(0);
  sPrev = new I32(0);
  sListed = new U8(0);
  bits = new I32(0);
  sums = new I32(0);
  sCap = 0;
  sCount = 0;
  freeIds = new I32(16);
  freeTop = 0;
  /** Per class: the current slab (-1: none) and the head of its list of partly free slabs. */
  readonly cur: Int32Array;
  readonly partial: Int32Array;
  /** Live slabs (for bookkeeping). */
  slabsLive = 0;
  /**
   * Empty slabs kept on their class's list for reuse (at most
   * {@link KEEP_EMPTY} a class), so a loop that empties and refills slabs
   * does not hand their pages back and forth with the page runs. Counted as
   * retained; `purge()` and the decay return them.
   */
  emptySlabs = 0;
  /** Fewest empty slabs kept since the decay last ran (its low-water mark). */
  emptyMin = 0;
  readonly emptyByClass: Int32Array;
  /** Live blocks. */
  blocks = 0;
  buf: ArrayBuffer | null = null;
  u8: Uint8Array = new U8(0);
  dv: DataView = new DataViewOf(new ArrayBuffer(0));
  viewBytes = 0;

  constructor(h: Heap, checked: boolean) {
    this.h = h;
    this.checked = checked;
    this.limit = min(handleLimit(), h.reserve);
    this.page = h.page;
    this.pageShift = h.pageShift;
    this.slabBytes = h.slabBytes;
    this.slabPages = h.slabPages;
    this.sizes = h.sizes;
    this.count = h.classCount;
    this.smallMax = h.smallMax;
    this.byQuantum = h.byQuantum;
    this.words = ceil(this.slabBytes / this.sizes[0]! / 32);
    this.sumWords = ceil(this.words / 32);
    this.slots = new I32(this.count);
    for (let c = 0; c < this.count; c++) this.slots[c] = (this.slabBytes / this.sizes[c]!) >>> 0;
    this.cur = new I32(this.count);
    this.partial = new I32(this.count);
    this.emptyByClass = new I32(this.count);
    fillOf(this.cur, -1);
    fillOf(this.partial, -1);
  }

  /** Bytes of this bookkeeping (its typed arrays). */
  bookkeepingBytes(): number {
    const gens = this.checked ? this.gen.length * 2 : 0;
    return this.tagCap * 4 + this.sCap * (4 * 5 + 2 + (this.words + this.sumWords) * 4) + gens + this.freeIds.length * 4 + this.count * 12;
  }

  /** Forgets every handle block (reset(), close()): their pages went back to the page runs with everything else. */
  forget(): void {
    fillOf(this.tag, 0);
    this.sCount = 0;
    this.freeTop = 0;
    this.slabsLive = 0;
    this.blocks = 0;
    this.emptySlabs = 0;
    this.emptyMin = 0;
    fillOf(this.emptyByClass, 0);
    // Every block was freed at once: handles of this epoch are stale from now on.
    this.epoch = (this.epoch + 1) % EPOCHS;
    fillOf(this.cur, -1);
    fillOf(this.partial, -1);
    fillOf(this.sListed, 0);
  }

  /** The `heap` window over the committed memory (below `limit`), made again when the arena grew or it was detached. */
  heapView(): Uint8Array {
    const h = this.h;
    const c = h.committed;
    const want = c < this.limit ? c : this.limit;
    // Length 0: detached (reset(), close(), or a transfer() by the caller).
    // Read through the view itself: a lie here costs a rebuild or a detached
    // view for the liar, never a wrong offset to the kernel.
    if (this.viewBytes === want && this.u8.length !== 0) return this.u8;
    const buf = this.buf;
    if (buf !== null && this.viewBytes === want && abByteLengthOf(buf) !== 0) return this.u8;
    if (want === 0) {
      this.buf = null;
      this.viewBytes = 0;
      this.u8 = new U8(0);
      this.dv = new DataViewOf(new ArrayBuffer(0));
      return this.u8;
    }
    const fresh = nRegionBuffer(h.region, h.start, want);
    HeapBuffer.tag(fresh);
    this.buf = fresh;
    this.viewBytes = want;
    this.u8 = new U8(fresh);
    this.dv = new DataViewOf(fresh);
    return this.u8;
  }

  /** A small block of class `c`: the fast path (a bitmap scan of the current slab). */
  allocSmall(c: number): number {
    let s = this.cur[c]!;
    if (s < 0 || this.sFree[s] === 0) s = this.refill(c);
    // The lowest free slot: a summary word, then its bitmap word (O(1): at
    // most slabBytes / 16 / 1024 summary words, 4 for 64 KiB slabs).
    const sums = this.sums;
    const sb = s * this.sumWords;
    let j = this.sHint[s]!;
    let y = sums[sb + j]!;
    while (y === 0) y = sums[sb + ++j]!;
    this.sHint[s] = j;
    const w = (j << 5) + 31 - clz32(y & -y);
    const bits = this.bits;
    const wi = s * this.words + w;
    const x = bits[wi]!;
    const low = x & -x;
    const rest = x ^ low;
    bits[wi] = rest;
    if (rest === 0) sums[sb + j] = y & (y - 1);
    this.sFree[s]!--;
    const sz = this.sizes[c]! | 0;
    this.h.allocated += sz;
    this.blocks++;
    const idx = (w << 5) + 31 - clz32(low);
    const off = this.sPage[s]! * this.page + idx * sz;
    if (!this.checked) return off;
    return this.issue(off);
  }

  /** Makes a slab with a free slot the current one of class `c`. */
  refill(c: number): number {
    const h = this.h;
    h.live();
    for (let s = this.partial[c]!; s >= 0; s = this.partial[c]!) {
      this.unlist(s);
      if (this.sFree[s] === this.slots[c]) this.unkeep(c);
      if (this.sFree[s]! > 0) {
        this.cur[c] = s;
        return s;
      }
    }
    const n = this.slabPages;
    const p = this.takePages(n, 1);
    const id = this.freeTop > 0 ? this.freeIds[--this.freeTop]! : this.sCount++;
    if (id >= this.sCap) this.growSlabs(id + 1);
    this.sPage[id] = p;
    this.sClass[id] = c;
    const slots = this.slots[c]!;
    this.sFree[id] = slots;
    this.sHint[id] = 0;
    this.sListed[id] = 0;
    const wb = id * this.words;
    const full = slots >>> 5;
    fillOf(this.bits, -1, wb, wb + full);
    fillOf(this.bits, 0, wb + full, wb + this.words);
    if ((slots & 31) !== 0) this.bits[wb + full] = (1 << (slots & 31)) - 1;
    // Summary: one bit per bitmap word that has a free slot.
    const used = ceil(slots / 32);
    const sb = id * this.sumWords;
    fillOf(this.sums, -1, sb, sb + (used >>> 5));
    fillOf(this.sums, 0, sb + (used >>> 5), sb + this.sumWords);
    if ((used & 31) !== 0) this.sums[sb + (used >>> 5)] = (1 << (used & 31)) - 1;
    fillOf(this.tag, id + 1, p, p + n);
    this.slabsLive++;
    this.cur[c] = id;
    return id;
  }

  /** Takes `n` pages for handle blocks below `limit` (committing where needed); marks them dirty. */
  takePages(n: number, alignPages: number): number {
    const h = this.h;
    const p = h.takeRun(n, HANDLE, alignPages);
    if ((p + n) * this.page > this.limit) {
      h.runs.release(p);
      throw outOfRange('size', `a block that fits the first ${this.limit} bytes of the arena, where handle blocks live`, n * this.page);
    }
    if (p + n > this.tagCap) {
      const cap = max(p + n, (this.tagCap * 1.25) >>> 0, 1024);
      const t = new I32(cap);
      setOf(t, this.tag);
      this.tag = t;
      if (this.checked) {
        const g = new U16(floor((cap * this.page) / 16)); // not >>> 4: cap * page may be 2^32
        setOf(g, this.gen);
        this.gen = g;
      }
      this.tagCap = cap;
    }
    h.runs.claim(p, n);
    h.noteTaken();
    return p;
  }

  growSlabs(need: number): void {
    const cap = max(need, this.sCap * 2, 16);
    for (const k of ['sPage', 'sFree', 'sHint', 'sNext', 'sPrev'] as const) {
      const a = new I32(cap);
      setOf(a, this[k]);
      this[k] = a;
    }
    const cls = new U8(cap);
    setOf(cls, this.sClass);
    this.sClass = cls;
    const listed = new U8(cap);
    setOf(listed, this.sListed);
    this.sListed = listed;
    const bits = new I32(cap * this.words);
    setOf(bits, this.bits);
    this.bits = bits;
    const sums = new I32(cap * this.sumWords);
    setOf(sums, this.sums);
    this.sums = sums;
    this.sCap = cap;
  }

  list(s: number): void {
    const c = this.sClass[s]!;
    const head = this.partial[c]!;
    this.sNext[s] = head;
    this.sPrev[s] = -1;
    if (head >= 0) this.sPrev[head] = s;
    this.partial[c] = s;
    this.sListed[s] = 1;
  }

  unlist(s: number): void {
    if (this.sListed[s] === 0) return;
    const next = this.sNext[s]!;
    const prev = this.sPrev[s]!;
    if (prev >= 0) this.sNext[prev] = next;
    else this.partial[this.sClass[s]!] = next;
    if (next >= 0) this.sPrev[next] = prev;
    this.sListed[s] = 0;
  }

  /** Returns slab `s` (no live block) to the page runs. */
  releaseSlab(s: number): void {
    const h = this.h;
    const p = this.sPage[s]!;
    const n = this.slabPages;
    fillOf(this.tag, 0, p, p + n);
    this.sFree[s] = 0;
    this.freeIds = pushId(this.freeIds, this.freeTop++, s);
    this.slabsLive--;
    h.runs.release(p);
    h.freedRun(p, n);
  }

  /** An empty slab of class `c` kept for reuse is in use again (or released). */
  unkeep(c: number): void {
    this.emptyByClass[c]!--;
    if (--this.emptySlabs < this.emptyMin) this.emptyMin = this.emptySlabs;
  }

  /** Releases every slab that holds no live block: the current ones and those kept (purge()). */
  releaseEmpty(): void {
    for (let c = 0; c < this.count; c++) {
      const s = this.cur[c]!;
      if (s >= 0 && this.sFree[s] === this.slots[c]) {
        this.cur[c] = -1;
        this.releaseSlab(s);
      }
      if (this.emptyByClass[c] === 0) continue;
      for (let k = this.partial[c]!; k >= 0; ) {
        const next = this.sNext[k]!;
        if (this.sFree[k] === this.slots[c]) {
          this.unlist(k);
          this.unkeep(c);
          this.releaseSlab(k);
        }
        k = next;
      }
    }
    this.emptyMin = this.emptySlabs;
  }

  /** A block of whole pages (above the small classes, or aligned past a page). */
  allocLarge(size: number, alignPages: number): number {
    this.h.live();
    const n = max(1, ceil(size / this.page));
    const p = this.takePages(n, alignPages);
    this.tag[p] = -n;
    this.h.allocated += n * this.page;
    this.blocks++;
    if (!this.checked) return p * this.page;
    return this.issue(p * this.page);
  }

  /**
   * Where handle `x` lives, or a refusal: a slab id (>= 0) with the slot in
   * `slot`, or -1 - pages for a page run. Reads only.
   */
  slot = 0;
  locate(x: unknown): number {
    if (typeof x !== 'number') throw invalidType('handle', 'of type number', x);
    let off = x;
    let g = 0;
    if (this.checked) {
      const top = floor(x / GEN_UNIT);
      off = x - top * GEN_UNIT;
      g = top & 0xffff;
      if (!(top >= 1 && top < EPOCHS * 65536) || g === 0 || top >>> 16 !== this.epoch) throw this.refused(x);
    }
    if (off >>> 0 !== off || off >= this.tagCap * this.page) throw this.refused(x);
    const p = off >>> this.pageShift;
    const t = this.tag[p]!;
    if (t > 0) {
      const s = t - 1;
      const c = this.sClass[s]!;
      // Integer arithmetic only (rel < slabBytes): a fractional index would
      // send the bitmap load below down V8's slow keyed-load path.
      const rel = (off - this.sPage[s]! * this.page) | 0;
      const size = this.sizes[c]! | 0;
      const i = (rel / size) | 0;
      if (i * size !== rel || i >= this.slots[c]!) throw this.refused(x);
      if (this.bits[s * this.words + (i >>> 5)]! & (1 << (i & 31))) throw this.refused(x, true);
      if (this.checked && genOf(this.gen, off >>> 4) !== g) throw this.refused(x, true);
      this.slot = i;
      this.at = off;
      return s;
    }
    if (t < 0 && (off & (this.page - 1)) === 0) {
      if (this.checked && genOf(this.gen, off >>> 4) !== g) throw this.refused(x, true);
      this.at = off;
      return -1 + t;
    }
    throw this.refused(x);
  }

  /** Frees a live handle block (checked by {@link locate} first: nothing is written for a refused handle). */
  free(x: unknown): void {
    const s = this.locate(x);
    const h = this.h;
    this.blocks--;
    if (s < 0) {
      const n = -1 - s;
      const p = this.at >>> this.pageShift;
      if (this.checked) this.gen[this.at >>> 4] = nextGen(this.gen[this.at >>> 4]!);
      this.tag[p] = 0;
      h.runs.release(p);
      h.allocated -= n * this.page;
      h.freedRun(p, n);
      return;
    }
    this.freeSlot(s, this.slot);
  }

  freeSlot(s: number, i: number): void {
    const c = this.sClass[s]!;
    const w = i >>> 5;
    if (this.checked) {
      const k = this.at >>> 4;
      this.gen[k] = nextGen(this.gen[k]!);
    }
    const wi = s * this.words + w;
    const old = this.bits[wi]!;
    this.bits[wi] = old | (1 << (i & 31));
    if (old === 0) {
      const j = w >>> 5;
      this.sums[s * this.sumWords + j]! |= 1 << (w & 31);
      if (j < this.sHint[s]!) this.sHint[s] = j;
    }
    this.h.allocated -= this.sizes[c]!;
    const f = ++this.sFree[s]!;
    if (s !== this.cur[c]) {
      if (f === 1) this.list(s);
      else if (f === this.slots[c]) {
        if (this.emptyByClass[c]! < KEEP_EMPTY) {
          // Kept on the list (it is on it already): retained, for the decay.
          this.emptyByClass[c]!++;
          this.emptySlabs++;
          const h = this.h;
          if (h.timer === null && h.decayMs > 0) {
            h.armDecay();
            this.emptyMin = this.emptySlabs;
          }
        } else {
          this.unlist(s);
          this.releaseSlab(s);
        }
      }
    }
  }

  /** Usable bytes of a live block (its class size, or its whole pages). */
  usable(x: unknown): number {
    const s = this.locate(x);
    return s < 0 ? (-1 - s) * this.page : this.sizes[this.sClass[s]!]!;
  }

  refused(x: unknown, freed = false): TypeError {
    if (this.h.closed) return invalidState('The arena is closed');
    return invalidValue(
      'handle',
      freed
        ? 'was already freed (a double free, or a stale handle)'
        : 'is not a live handle of this arena (freed, forged, part of a block, or from elsewhere)',
      x,
    );
  }
}

/** A stored generation (0 reads as 1: never handed out yet). */
function genOf(gens: Uint16Array, k: number): number {
  const g = gens[k]!;
  return g === 0 ? 1 : g;
}

/** The generation after `g` (1..MAX_GEN, wrapping). */
function nextGen(g: number): number {
  return g >= MAX_GEN ? 1 : g === 0 ? 2 : g + 1;
}

function pushId(stack: Int32Array<ArrayBuffer>, at: number, id: number): Int32Array<ArrayBuffer> {
  let st = stack;
  if (at >= st.length) {
    st = new I32(st.length * 2);
    setOf(st, stack);
  }
  st[at] = id;
  return st;
}

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
