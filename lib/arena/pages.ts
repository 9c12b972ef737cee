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
 * slack as the arrays grow) plus 8 bytes per free run.
 * @internal
 */

/** Run flags. A used run has exactly one kind bit. */
export const FREE = 1;
/** A slab of small blocks (its own ArrayBuffer). */
export const SLAB = 2;
/** A page run viewed through its chunk's ArrayBuffer. */
export const RUN = 4;
/** A page run with its own ArrayBuffer (large, or crossing a chunk boundary). */
export const OWN = 8;
const HEAD = 16;
const TAIL = 32;
const KIND = FREE | SLAB | RUN | OWN;

const EXACT_BINS = 64;
const BINS = EXACT_BINS + 27;

function binOf(pages: number): number {
  if (pages <= EXACT_BINS) return pages - 1;
  return EXACT_BINS + (31 - Math.clz32(pages)) - 6;
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
  len = new Uint32Array(0);
  /** Run flags, at heads and tails; 0 elsewhere. */
  flags = new Uint8Array(0);
  /** 1 where the page is known to read as zero. */
  clean = new Uint8Array(0);
  /** Index of a free run's head in its bin. */
  private pos = new Int32Array(0);
  private readonly bins: number[][] = Array.from({ length: BINS }, () => []);
  private readonly mask = new Uint32Array(Math.ceil(BINS / 32));

  /** Bytes this bookkeeping holds (typed arrays plus bin entries). */
  bookkeepingBytes(): number {
    return this.len.byteLength + this.flags.byteLength + this.clean.byteLength + this.pos.byteLength + this.freeRuns * 8;
  }

  /** Adds `n` clean free pages at the end (newly committed), merging with a free tail. */
  grow(n: number): void {
    const start = this.pages;
    const end = start + n;
    if (end > this.len.length) {
      // Grow by a quarter (geometric, so copying stays O(1) per page)
      // rather than doubling: the slack counts against the 1% target.
      const cap = Math.max(end, Math.ceil(this.len.length * 1.25));
      const len = new Uint32Array(cap);
      len.set(this.len);
      const flags = new Uint8Array(cap);
      flags.set(this.flags);
      const clean = new Uint8Array(cap);
      clean.set(this.clean);
      const pos = new Int32Array(cap);
      pos.set(this.pos);
      this.len = len;
      this.flags = flags;
      this.clean = clean;
      this.pos = pos;
    }
    this.clean.fill(1, start, end);
    this.pages = end;
    this.setRun(start, n, FREE);
    this.freePages += n;
    this.freeRuns++;
    this.insert(start, n);
    this.mergeBefore(start);
  }

  /** Forgets every run: the whole space becomes one free run, clean or not. */
  reset(pages: number, clean: boolean): void {
    for (const b of this.bins) b.length = 0;
    this.mask.fill(0);
    this.flags.fill(0, 0, this.pages);
    this.pages = 0;
    this.freePages = 0;
    this.freeRuns = 0;
    if (pages > 0) {
      this.grow(pages);
      if (!clean) this.clean.fill(0, 0, pages);
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
      for (let i = bin.length - 1, tries = 0; i >= 0 && tries < 32; i--, tries++) {
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
      const bin = this.bins[b]!;
      head = bin[bin.length - 1]!;
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
    const bin = this.bins[b]!;
    this.pos[head] = bin.length;
    bin.push(head);
    this.mask[b >>> 5]! |= 1 << (b & 31);
  }

  private remove(head: number, n: number): void {
    const b = binOf(n);
    const bin = this.bins[b]!;
    const i = this.pos[head]!;
    const last = bin.pop()!;
    if (last !== head) {
      bin[i] = last;
      this.pos[last] = i;
    }
    if (bin.length === 0) this.mask[b >>> 5]! &= ~(1 << (b & 31));
  }

  /** The first non-empty bin at or above `b`, or -1. */
  private nextBin(b: number): number {
    for (let w = b >>> 5; w < this.mask.length; w++) {
      let bits = this.mask[w]!;
      if (w === b >>> 5) bits &= ~0 << (b & 31);
      if (bits !== 0) return w * 32 + (31 - Math.clz32(bits & -bits));
    }
    return -1;
  }
}
