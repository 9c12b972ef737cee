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
import { invalidState, invalidType, invalidValue } from '../errors';
import { abByteLengthOf, ceil, clz32, floor, max, U8 } from './intrinsics';
import { nRegionBuffer } from './calls';
import { HeapBuffer } from './handle-buffer';
import { EPOCHS, GEN_UNIT, genOf, nextGen } from './handle-ids';
import { HandleSlabs, KEEP_EMPTY } from './handle-slabs';

const DataViewOf = DataView;

/** The handle state of one arena (created on first use): its blocks' operations over {@link HandleSlabs}. @internal */
export class HandleSpace extends HandleSlabs {
  /** The `heap` buffer and its views ({@link heapView}). */
  buf: ArrayBuffer | null = null;
  u8: Uint8Array = new U8(0);
  dv: DataView = new DataViewOf(new ArrayBuffer(0));
  viewBytes = 0;

  /** The checked handle of a block just handed out at `off`. */
  issue(off: number): number {
    const k = off >>> 4;
    let g = this.gen[k]!;
    if (g === 0) this.gen[k] = g = 1;
    return (this.epoch * 65536 + g) * GEN_UNIT + off;
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
