/**
 * The arena's page-run allocator: pure bookkeeping over page indices
 * `[0, pages)` (the committed part of the reservation), no system calls.
 *
 * Runs tile the space: every page belongs to exactly one run, free or used.
 * A run's length and flags are written at its first page (head) and its last
 * (tail), so freeing a run finds its neighbours in O(1) (boundary tags) and
 * merges with free ones. Free runs sit in bins (exact bins for 1..64 pages,
 * one bin per power of two above), each bin an array of head pages with the
 * head's position kept per page, so a run leaves its bin in O(1) when it is
 * merged. A bitmask of non-empty bins finds a fitting bin in a few steps.
 * The bins are typed arrays (grown by doubling) with each head's position
 * kept per page, so nothing here goes through `Array.prototype` or any other
 * built-in a caller could patch (see intrinsics.ts).
 *
 * Invariants: flags are non-zero only at the heads and tails of current runs
 * (merges clear the old boundaries), so a page number read from a user's view
 * can be checked exactly: it is a live run of the expected kind only if its
 * flags say HEAD and that kind. Free runs never touch each other.
 *
 * Beside the runs, one byte per page records whether the page is known to be
 * zero (`clean`): fresh from commit, or purged with MADV_DONTNEED and not
 * handed out since. `allocZeroed` skips clearing such pages.
 *
 * Memory: 10 bytes per page (0.25% of a 4K page; up to a quarter more of
 * slack as the arrays grow) plus 4 to 8 bytes per free run.
 * @internal
 */
import { clz32, fillOf, I32, max, setOf, table, U32, U8 } from './intrinsics';

/** Run flags. A used run has exactly one kind bit. */
export const FREE = 1;
/** A slab of small blocks (its own ArrayBuffer). */
export const SLAB = 2;
/** A page run viewed through its chunk's ArrayBuffer. */
export const RUN = 4;
/** A page run with its own ArrayBuffer (large, or crossing a chunk boundary). */
export const OWN = 8;
/** A slab or a page run of handle blocks (handles.ts): never a view's. */
export const HANDLE = 64;
const HEAD = 16;
const TAIL = 32;
const KIND = FREE | SLAB | RUN | OWN | HANDLE;

const EXACT_BINS = 64;
const BINS = EXACT_BINS + 27;
const MASK_WORDS = (BINS + 31) >>> 5;

function binOf(pages: number): number {
  if (pages <= EXACT_BINS) return pages - 1;
  return EXACT_BINS + (31 - clz32(pages)) - 6;
}

/** The page-run allocator described above. @internal */
export class PageRuns {
  /** Pages managed (committed). */
  pages = 0;
  /** Pages in free runs. */
  freePages = 0;
  /** Number of free runs. */
  freeRuns = 0;
  /** Run length in pages, at heads and tails. */
  len = new U32(0);
  /** Run flags, at heads and tails; 0 elsewhere. */
  flags = new U8(0);
  /** 1 where the page is known to read as zero. */
  clean = new U8(0);
  /** Free pages whose `clean` is 1. */
  cleanFree = 0;
  /** Index of a free run's head in its bin. */
  private pos = new I32(0);
  /** Each bin's heads (the first `binCount[b]` entries are in use). */
  private readonly bins = table<Int32Array>();
  private readonly binCount = new I32(BINS);
  private readonly binCap = new I32(BINS);

  constructor() {
    for (let b = 0; b < BINS; b++) this.bins[b] = new I32(0);
  }
  private readonly mask = new U32(MASK_WORDS);
  /** Length of the per-page arrays (typed-array `length` is a getter a caller can patch). */
  private cap = 0;

  /** Bytes this bookkeeping holds (its typed arrays). */
  bookkeepingBytes(): number {
    let bins = 0;
    for (let b = 0; b < BINS; b++) bins += this.binCap[b]! * 4;
    return this.cap * 10 + bins + BINS * 8 + MASK_WORDS * 4;
  }

  /** Adds `n` clean free pages at the end (newly committed), merging with a free tail. */
  grow(n: number): void {
    const start = this.pages;
    const end = start + n;
    if (end > this.cap) {
      // Grow by a quarter (geometric, so copying stays O(1) per page)
      // rather than doubling: the slack counts against the 1% target.
      const cap = max(end, (this.cap * 1.25) >>> 0);
      this.cap = cap;
      const len = new U32(cap);
      setOf(len, this.len);
      const flags = new U8(cap);
      setOf(flags, this.flags);
      const clean = new U8(cap);
      setOf(clean, this.clean);
      const pos = new I32(cap);
      setOf(pos, this.pos);
      this.len = len;
      this.flags = flags;
      this.clean = clean;
      this.pos = pos;
    }
    fillOf(this.clean, 1, start, end);
    this.cleanFree += n;
    this.pages = end;
    this.setRun(start, n, FREE);
    this.freePages += n;
    this.freeRuns++;
    this.insert(start, n);
    this.mergeBefore(start);
  }

  /** Forgets every run: the whole space becomes one free run, clean or not. */
  reset(pages: number, clean: boolean): void {
    fillOf(this.binCount, 0);
    fillOf(this.mask, 0);
    fillOf(this.flags, 0, 0, this.pages);
    this.pages = 0;
    this.freePages = 0;
    this.freeRuns = 0;
    this.cleanFree = 0;
    if (pages > 0) {
      this.grow(pages);
      if (!clean) {
        fillOf(this.clean, 0, 0, pages);
        this.cleanFree = 0;
      }
    }
  }

  /** Length of the free run ending at the last page, or 0. */
  freeTail(): number {
    const last = this.pages - 1;
    return last >= 0 && this.flags[last]! & FREE ? this.len[last]! : 0;
  }

  /**
   * Takes a run of `n` pages whose first page `p` satisfies
   * `(phase + p) % align === 0`, marks it used with `kind`, and returns `p`;
   * or -1 when no free run fits (the caller commits more and retries).
   */
  take(n: number, kind: number, align = 1, phase = 0): number {
    const need = align > 1 ? n + align - 1 : n;
    let b = binOf(need);
    let head = -1;
    if (b >= EXACT_BINS) {
      // The request's own power-of-two bin holds runs on both sides of it.
      const bin = this.bins[b]!;
      for (let i = this.binCount[b]! - 1, tries = 0; i >= 0 && tries < 32; i--, tries++) {
        if (this.len[bin[i]!]! >= need) {
          head = bin[i]!;
          break;
        }
      }
      b++;
    }
    if (head < 0) {
      b = this.nextBin(b);
      if (b < 0) return -1;
      head = this.bins[b]![this.binCount[b]! - 1]!;
    }
    const total = this.len[head]!;
    this.remove(head, total);
    this.freeRuns--;
    let p = head;
    if (align > 1) {
      const r = (phase + head) % align;
      if (r !== 0) p = head + (align - r);
    }
    const front = p - head;
    const back = total - front - n;
    if (front > 0) {
      this.setRun(head, front, FREE);
      this.insert(head, front);
      this.freeRuns++;
    }
    if (back > 0) {
      this.setRun(p + n, back, FREE);
      this.insert(p + n, back);
      this.freeRuns++;
    }
    this.setRun(p, n, kind);
    this.freePages -= n;
    return p;
  }

  /** True when `p` is the head of a used run of `kind`. */
  isHead(p: number, kind: number): boolean {
    return p >= 0 && p < this.pages && this.flags[p] === (kind | HEAD | (this.len[p] === 1 ? TAIL : 0));
  }

  /** Changes the kind of the used run at head `p`. */
  retag(p: number, kind: number): void {
    this.setRun(p, this.len[p]!, kind);
  }

  /**
   * Grows the used run at head `p` by `m` pages taken from the free run
   * right after it, if there is one that long; returns whether it did. The
   * caller claims the new pages.
   */
  extend(p: number, m: number): boolean {
    const n = this.len[p]!;
    const q = p + n;
    if (q >= this.pages || (this.flags[q]! & (FREE | HEAD)) !== (FREE | HEAD)) return false;
    const f = this.len[q]!;
    if (f < m) return false;
    const kind = this.flags[p]! & KIND;
    this.remove(q, f);
    this.freeRuns--;
    this.freePages -= m;
    this.flags[q] = 0;
    this.flags[q + f - 1] = 0;
    if (n > 1) this.flags[p + n - 1] = 0;
    if (f > m) {
      this.setRun(q + m, f - m, FREE);
      this.insert(q + m, f - m);
      this.freeRuns++;
    }
    this.setRun(p, n + m, kind);
    return true;
  }

  /** Frees the used run at head `p` (merging with free neighbours); returns its length. */
  release(p: number): number {
    const n = this.len[p]!;
    this.freePages += n;
    this.freeRuns++;
    this.setRun(p, n, FREE);
    this.insert(p, n);
    this.mergeAfter(p);
    this.mergeBefore(p);
    return n;
  }

  /**
   * Marks the pages of a run just taken as dirty (about to be handed out),
   * keeping `cleanFree` exact. O(n).
   */
  claim(p: number, n: number): void {
    const clean = this.clean;
    let c = 0;
    for (let i = p; i < p + n; i++) c += clean[i]!;
    this.cleanFree -= c;
    if (c > 0) fillOf(clean, 0, p, p + n);
  }

  /** Marks free pages `[p, p + n)` as known zero (just purged). O(n). */
  markClean(p: number, n: number): void {
    const clean = this.clean;
    let c = 0;
    for (let i = p; i < p + n; i++) c += clean[i]!;
    this.cleanFree += n - c;
    fillOf(clean, 1, p, p + n);
  }

  /** Free pages that may be dirty (not known to read as zero). */
  dirtyFree(): number {
    return this.freePages - this.cleanFree;
  }

  /** Calls `fn(head, length)` for every free run, in address order. */
  forEachFree(fn: (head: number, length: number) => void): void {
    for (let p = 0; p < this.pages; ) {
      const n = this.len[p]!;
      if (this.flags[p]! & FREE) fn(p, n);
      p += n;
    }
  }

  /** Calls `fn(head, length, kind)` for every run, in address order. */
  forEachRun(fn: (head: number, length: number, kind: number) => void): void {
    for (let p = 0; p < this.pages; ) {
      const n = this.len[p]!;
      fn(p, n, this.flags[p]! & KIND);
      p += n;
    }
  }

  private setRun(p: number, n: number, kind: number): void {
    const last = p + n - 1;
    this.len[p] = n;
    this.len[last] = n;
    if (n === 1) {
      this.flags[p] = kind | HEAD | TAIL;
    } else {
      this.flags[p] = kind | HEAD;
      this.flags[last] = kind | TAIL;
    }
  }

  /** Merges the free run at `p` with a free run right after it. */
  private mergeAfter(p: number): void {
    const n = this.len[p]!;
    const q = p + n;
    if (q >= this.pages || !(this.flags[q]! & FREE)) return;
    const m = this.len[q]!;
    this.remove(p, n);
    this.remove(q, m);
    this.flags[p + n - 1] = 0;
    this.flags[q] = 0;
    this.freeRuns--;
    this.setRun(p, n + m, FREE);
    this.insert(p, n + m);
  }

  /** Merges the free run at `p` with a free run right before it. */
  private mergeBefore(p: number): void {
    if (p === 0 || !(this.flags[p - 1]! & FREE)) return;
    const m = this.len[p - 1]!;
    const h = p - m;
    this.flags[p - 1] = 0;
    this.flags[p] = 0;
    const n = this.len[p]!;
    this.remove(h, m);
    this.remove(p, n);
    this.freeRuns--;
    this.setRun(h, m + n, FREE);
    this.insert(h, m + n);
  }

  private insert(head: number, n: number): void {
    const b = binOf(n);
    const c = this.binCount[b]!;
    let bin = this.bins[b]!;
    if (c === this.binCap[b]) {
      const cap = c === 0 ? 4 : c * 2;
      const grown = new I32(cap);
      setOf(grown, bin);
      this.bins[b] = bin = grown;
      this.binCap[b] = cap;
    }
    bin[c] = head;
    this.pos[head] = c;
    this.binCount[b] = c + 1;
    this.mask[b >>> 5]! |= 1 << (b & 31);
  }

  private remove(head: number, n: number): void {
    const b = binOf(n);
    const bin = this.bins[b]!;
    const i = this.pos[head]!;
    const c = this.binCount[b]! - 1;
    const last = bin[c]!;
    if (last !== head) {
      bin[i] = last;
      this.pos[last] = i;
    }
    this.binCount[b] = c;
    if (c === 0) this.mask[b >>> 5]! &= ~(1 << (b & 31));
  }

  /** The first non-empty bin at or above `b`, or -1. */
  private nextBin(b: number): number {
    for (let w = b >>> 5; w < MASK_WORDS; w++) {
      let bits = this.mask[w]!;
      if (w === b >>> 5) bits &= ~0 << (b & 31);
      if (bits !== 0) return w * 32 + (31 - clz32(bits & -bits));
    }
    return -1;
  }
}
