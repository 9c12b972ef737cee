/**
 * The slabs of the arena by handle: the per-page tags and per-slab typed
 * arrays of a {@link HandleSlabs} (base of `HandleSpace`, handles.ts), the
 * per-class lists of partly free slabs, the empty slabs kept for reuse, and
 * the page runs slabs and large handle blocks take from the arena.
 * @internal
 */
import { outOfRange } from '../errors';
import { type Heap } from './heap';
import { HANDLE } from './pages';
import { ceil, fillOf, floor, I32, max, min, setOf, U16, U8 } from './intrinsics';
import { EPOCHS, handleLimit } from './handle-ids';

/** Empty slabs kept per class (see `HandleSpace.emptySlabs`): at most 4 x 26 x 64 KiB = 6.5 MiB with 4K pages. */
export const KEEP_EMPTY = 4;

/** The handle state of one arena but its block operations (handles.ts). @internal */
export class HandleSlabs {
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
  /**
   * After `purge()`: with no slab live, the per-slab arrays (which grew with
   * the peak number of slabs, bitmaps sized for the smallest class) go; with
   * no handle block live at all and unchecked handles, the page tags too
   * (checked handles keep them, with the generations that refuse stale
   * handles). They grow again with the next slab or block.
   */
  shrink(): void {
    if (this.slabsLive !== 0) return;
    this.sCount = 0;
    this.freeTop = 0;
    if (this.freeIds.length > 16) this.freeIds = new I32(16);
    if (this.sCap > 0) {
      this.sPage = new I32(0);
      this.sFree = new I32(0);
      this.sHint = new I32(0);
      this.sNext = new I32(0);
      this.sPrev = new I32(0);
      this.sClass = new U8(0);
      this.sListed = new U8(0);
      this.bits = new I32(0);
      this.sums = new I32(0);
      this.sCap = 0;
    }
    if (this.blocks === 0 && !this.checked && this.tagCap > 0) {
      this.tag = new I32(0);
      this.tagCap = 0;
    }
  }

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
