/**
 * A worker-shared arena of handle blocks: one read-write
 * `MAP_NORESERVE` mapping shared with `Mapping.share()`/`attach()` (the same
 * memory at the same address in every worker), and its metadata in a
 * `SharedArrayBuffer` that travels with the token. A handle is the block's
 * byte offset, valid in every worker; `allocHandle`/`freeHandle` work from
 * any worker.
 *
 * Lock-free, and so safe against `worker.terminate()` at any instruction:
 * - The memory is cut into 64 KiB spans. A span is taken once from a bump
 *   counter (compare-and-swap) for one size class and keeps that class for
 *   the arena's life.
 * - Each span has a bitmap, one bit per slot (1 = live). `allocHandle` sets
 *   a clear bit with `Atomics.compareExchange`; `freeHandle` clears a set bit
 *   the same way. A bitmap has no ABA problem: a bit is claimed or released
 *   whatever its history, and of two threads freeing one handle exactly one
 *   clears the bit (the other is refused as a double free).
 * - A per-class bitmap of spans that may have free slots (set by a free
 *   into a full bitmap word) is a hint: it only steers the search, never
 *   decides what is live. A worker terminated between two steps loses at
 *   worst a slot or a span it had just taken until the arena goes: never
 *   handed out twice, and nothing waits for it.
 * - There is no lock, so there is nothing a terminated worker can hold.
 *
 * Nothing in the metadata is passed to the kernel, and every index read
 * from it is bounds-checked by the typed arrays it indexes (and the handles
 * it yields by `heap`): a caller who writes into the token's
 * SharedArrayBuffer can make this arena hand out overlapping blocks, never
 * make the process crash.
 * @internal
 */
import { mmap, attach, type Mapping } from '../mapping';
import { maxArrayBufferLength } from '../kernel/system';
import { invalidState, invalidThis, invalidType, outOfRange, withCode } from '../errors';
import { checkArenaInteger, readOptions } from './checks';
import { clz32, floor, I32, isInteger, min, U8 } from './intrinsics';
import {
  classOf, COUNT, H_NEXT, H_SPANS, layout, MAX_BLOCK, notLive, popcount, SIZES, SLOTS, SPAN, SPAN_SHIFT, SPAN_WORDS, TAIL, USED_WORDS, WORDS,
} from './shared-layout';
import { checkSharedToken, writeHeader } from './shared-token';
import { freeRun, isLiveRun, RUN_LIVE, runSpans, spansFor, takeRun } from './shared-large';
import type { SharedArenaOptions, SharedArenaStats, SharedArenaToken } from './shared-types';

export type { SharedArenaOptions, SharedArenaStats, SharedArenaToken } from './shared-types';

const { load, store, compareExchange, or, and } = Atomics;
const SAB = SharedArrayBuffer;
const copyWithinOf = Function.prototype.call.bind(Uint8Array.prototype.copyWithin) as unknown as (
  view: Uint8Array, target: number, start: number, end: number,
) => Uint8Array;
const DataViewOf = DataView;
const ObjectFreeze = Object.freeze;

/** Receiver check: only a real SharedArena has `#meta`. */
function brand(value: unknown): asserts value is SharedArena {
  if (typeof value !== 'object' || value === null || !SharedArena.isSharedArena(value)) throw invalidThis('SharedArena');
}

const CONSTRUCT = Symbol('pagewise.SharedArena.attach');

/**
 * An arena of handle blocks shared by worker threads: make it in one
 * thread, post `arena.share()` to workers, `SharedArena.attach(token)`
 * there. Every worker sees the same memory at the same address, a handle
 * means the same block in every worker, and any worker may free a block any
 * other allocated. See docs/arena.md, "Sharing an arena between workers".
 */
export class SharedArena {
  #mapping: Mapping;
  #meta: Int32Array;
  #spans: number;
  #spanBase: number;
  #bitsBase: number;
  #availBase: number;
  #availWords: number;
  #heap: Uint8Array | null;
  #data: DataView | null;
  #closed = false;
  /** This thread's current span per class (-1: none yet): two workers allocating mostly use different spans. */
  #cur = new I32(COUNT).fill(-1);
  /** The bitmap word of its current span where this thread last found a slot, per class. */
  #word = new I32(COUNT);
  /** Where this thread's last search of the class's span bitmap stopped. */
  #availCursor = new I32(COUNT);

  /** Makes a new shared arena (the memory is mapped in this thread; others `attach()` it). */
  constructor(options?: SharedArenaOptions);
  /** @internal */
  constructor(options: SharedArenaOptions | symbol | undefined, mapping?: Mapping, meta?: SharedArrayBuffer);
  constructor(options?: SharedArenaOptions | symbol, mapping?: Mapping, meta?: SharedArrayBuffer) {
    if (options === CONSTRUCT) {
      this.#mapping = mapping!;
      this.#meta = new I32(meta!);
      this.#spans = load(this.#meta, H_SPANS);
    } else {
      const o = readOptions('options', options, ['reserve']);
      const limit = min(maxArrayBufferLength(), 2 ** 32);
      const reserve = o.reserve === undefined ? min(2 ** 30, limit) : checkArenaInteger('options.reserve', o.reserve, 1, limit);
      const spans = (reserve + SPAN - 1) >>> SPAN_SHIFT;
      if (spans * SPAN > limit) throw outOfRange('options.reserve', `<= ${limit} (64 KiB spans)`, o.reserve);
      this.#mapping = mmap(spans * SPAN, { noReserve: true, name: 'pagewise:shared-arena' });
      const words = layout(spans).words;
      this.#meta = new I32(new SAB(words * 4));
      this.#spans = spans;
      writeHeader(this.#meta, spans, this.#mapping.share().id);
    }
    const l = layout(this.#spans);
    this.#spanBase = l.spanBase;
    this.#bitsBase = l.bitsBase;
    this.#availBase = l.availBase;
    this.#availWords = l.availWords;
    this.#heap = new U8(this.#mapping.buffer);
    this.#data = new DataViewOf(this.#heap.buffer);
  }

  /** @internal Whether `value` is a SharedArena (not a Proxy or a look-alike). */
  static isSharedArena(value: object): value is SharedArena {
    return #meta in value;
  }

  /**
   * Largest block of a size class (8 KiB). A larger block is a run of whole
   * 64 KiB spans, given back to the kernel when it is freed.
   */
  static get maxBlock(): number {
    return MAX_BLOCK;
  }

  /**
   * The arena of another thread's {@link SharedArena.share} token: the same
   * memory at the same address and the same blocks. The memory is checked
   * against the native registry of shared mappings (`ERR_INVALID_STATE` when
   * every thread that held it has closed it; `ERR_INVALID_ARG_VALUE` for a
   * token whose fields do not match it) and the metadata against its header.
   */
  static attach(token: SharedArenaToken): SharedArena {
    const { memory, meta } = checkSharedToken(token);
    return new SharedArena(CONSTRUCT, attach(memory), meta);
  }

  /** A token for {@link SharedArena.attach} in another thread: post it (`postMessage`, `workerData`). Holds nothing. */
  share(): SharedArenaToken {
    brand(this);
    this.#live();
    return ObjectFreeze({ pagewiseSharedArena: 1 as const, memory: this.#mapping.share(), meta: this.#meta.buffer as SharedArrayBuffer });
  }

  #live(): void {
    if (this.#closed) throw invalidState('This SharedArena was closed in this thread');
  }

  /** A Uint8Array over the whole arena in this thread: `heap[h + i]` is byte `i` of block `h`. Never replaced. */
  get heap(): Uint8Array {
    brand(this);
    this.#live();
    return this.#heap!;
  }
  /** A DataView over the same memory as {@link SharedArena.heap}. */
  get data(): DataView {
    brand(this);
    this.#live();
    return this.#data!;
  }
  /** Bytes of address space. */
  get reserved(): number {
    brand(this);
    return this.#spans * SPAN;
  }
  /** The address of byte 0 (the same in every worker). */
  get address(): bigint {
    brand(this);
    return this.#mapping.address;
  }
  /** False once {@link SharedArena.close} ran in this thread. */
  get open(): boolean {
    brand(this);
    return !this.#closed;
  }

  /**
   * A block of at least `size` bytes (uninitialized: it may hold what a
   * previous block there held): its handle, a byte offset into `heap`,
   * valid in every worker. 16-byte aligned; `align` (a power of two up to
   * 8192, or 65536 above {@link SharedArena.maxBlock}) asks for more. Above
   * `maxBlock` the block is a run of whole 64 KiB spans. `ENOMEM` (no
   * `syscall`) when the reservation is full; `ERR_OUT_OF_RANGE` for a size
   * larger than the reservation.
   */
  allocHandle(size: number, align?: number): number {
    brand(this);
    this.#live();
    const h = this.#allocAny(size, align);
    if (h < 0) throw withCode(new Error(`The SharedArena is full: ${this.#spans * SPAN} bytes reserved are taken by spans (reserve more address space: new SharedArena({ reserve }))`), 'ENOMEM');
    return h;
  }

  /** Like {@link SharedArena.allocHandle}, but -1 where that throws `ENOMEM` or the size is larger than the reservation. */
  tryAllocHandle(size: number, align?: number): number {
    brand(this);
    this.#live();
    if (typeof size === 'number' && isInteger(size) && size > this.#spans * SPAN) {
      spansFor(MAX_BLOCK + 1, align, this.#spans); // bad arguments still throw
      return -1;
    }
    return this.#allocAny(size, align);
  }

  /** A block of a size class, or above {@link SharedArena.maxBlock} a run of spans; -1 when there is no room. */
  #allocAny(size: unknown, align: unknown): number {
    if (typeof size === 'number' && size > MAX_BLOCK && isInteger(size)) {
      const s = takeRun(this.#meta, this.#spanBase, this.#spans, spansFor(size, align, this.#spans));
      return s < 0 ? -1 : s * SPAN;
    }
    return this.#alloc(classOf(size, align));
  }

  #alloc(c: number): number {
    const s = this.#cur[c]!;
    if (s >= 0) {
      const h = this.#claim(s, c, this.#word[c]!);
      if (h >= 0) return h;
    }
    return this.#allocSlow(c);
  }

  /** A slot of class `c` in span `s`, searching its bitmap from word `from`; -1 when full. */
  #claim(s: number, c: number, from: number): number {
    const m = this.#meta;
    const base = this.#bitsBase + s * WORDS;
    const n = USED_WORDS[c]!;
    for (let k = 0, i = from; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
      let w = load(m, base + i);
      while (w !== -1) {
        const free = ~w & (w + 1); // lowest clear bit
        const prev = compareExchange(m, base + i, w, w | free);
        if (prev === w) {
          this.#word[c] = i;
          return s * SPAN + ((i << 5) + 31 - clz32(free)) * SIZES[c]!;
        }
        w = prev;
      }
    }
    return -1;
  }

  /** The current span is full: find a span of the class with a free slot, or take a new one. */
  #allocSlow(c: number): number {
    const m = this.#meta;
    const old = this.#cur[c]!;
    if (old >= 0) this.#unlist(old, c);
    // Spans of this class that may have a free slot (set by freeHandle when
    // a full span gets one), from where this thread's last search stopped.
    const base = this.#availBase + c * this.#availWords;
    const n = this.#availWords;
    for (let k = 0, i = this.#availCursor[c]!; k <= n; k++, i = i + 1 >= n ? 0 : i + 1) {
      let w = load(m, base + i);
      while (w !== 0) {
        const bit = w & -w;
        w &= ~bit;
        const s = (i << 5) + 31 - clz32(bit);
        if (s === old) continue;
        const h = this.#claim(s, c, 0);
        if (h >= 0) {
          this.#cur[c] = s;
          this.#availCursor[c] = i;
          return h;
        }
        this.#unlist(s, c);
      }
    }
    // A new span from the bump counter.
    for (;;) {
      const next = load(m, H_NEXT);
      if (next >= this.#spans) return -1;
      if (compareExchange(m, H_NEXT, next, next + 1) !== next) continue;
      const sp = this.#spanBase + next * SPAN_WORDS;
      if (TAIL[c] !== 0) store(m, this.#bitsBase + next * WORDS + USED_WORDS[c]! - 1, TAIL[c]!);
      store(m, sp, c + 1); // published: its handles can be checked from here on
      // The span was listed as having free slots by nobody: this thread uses it first.
      this.#cur[c] = next;
      this.#word[c] = 0;
      const h = this.#claim(next, c, 0);
      if (h >= 0) return h;
    }
  }

  /** Takes span `s` off its class's list of spans with free slots, unless a free slot came back meanwhile. */
  #unlist(s: number, c: number): void {
    const m = this.#meta;
    const word = this.#availBase + c * this.#availWords + (s >>> 5);
    const bit = 1 << (s & 31);
    and(m, word, ~bit);
    // A freeHandle that found its bitmap word full after this lists the span
    // again itself; a slot freed before, this scan sees.
    const base = this.#bitsBase + s * WORDS;
    for (let i = 0; i < USED_WORDS[c]!; i++) {
      if (load(m, base + i) !== -1) {
        or(m, word, bit);
        return;
      }
    }
  }

  /**
   * The class of a live block's handle (-spans for a run of spans), or a refusal
   * (`ERR_INVALID_ARG_VALUE`: not the start of a live block of this arena;
   * `ERR_INVALID_ARG_TYPE`: not a number). Reads only.
   */
  #locate(handle: unknown, name: string): number {
    if (typeof handle !== 'number') throw invalidType(name, 'of type number', handle);
    if (handle >>> 0 !== handle || (handle & 15) !== 0) throw notLive(name, handle);
    const s = handle >>> SPAN_SHIFT;
    if (s >= this.#spans) throw notLive(name, handle);
    const sw = load(this.#meta, this.#spanBase + s * SPAN_WORDS);
    if (isLiveRun(sw)) {
      if ((handle & (SPAN - 1)) !== 0) throw notLive(name, handle);
      return -runSpans(sw);
    }
    const c = sw - 1;
    if (c < 0 || c >= COUNT) throw notLive(name, handle);
    const rel = handle & (SPAN - 1);
    const slot = floor(rel / SIZES[c]!);
    if (slot * SIZES[c]! !== rel || slot >= SLOTS[c]!) throw notLive(name, handle);
    const w = load(this.#meta, this.#bitsBase + s * WORDS + (slot >>> 5));
    if ((w & (1 << (slot & 31))) === 0) throw notLive(name, handle);
    return c;
  }

  /**
   * Frees a block, from any worker. A handle that is not the start of a
   * live block of this arena (freed already, in this worker or another;
   * never handed out; inside a block; negative, fractional, past the arena)
   * is refused with `ERR_INVALID_ARG_VALUE` and nothing is written.
   */
  freeHandle(handle: number): void {
    brand(this);
    this.#live();
    const c = this.#locate(handle, 'handle');
    const m = this.#meta;
    const s = handle >>> SPAN_SHIFT;
    if (c < 0) {
      // Another worker freed it between the check and here: a double free.
      if (!freeRun(m, this.#spanBase, this.#mapping, s, RUN_LIVE | -c)) throw notLive('handle', handle);
      return;
    }
    const slot = (handle & (SPAN - 1)) / SIZES[c]!;
    const word = this.#bitsBase + s * WORDS + (slot >>> 5);
    const bit = 1 << (slot & 31);
    let w = load(m, word);
    for (;;) {
      // Another worker freed it between the check and here: a double free.
      if ((w & bit) === 0) throw notLive('handle', handle);
      const prev = compareExchange(m, word, w, w & ~bit);
      if (prev === w) break;
      w = prev;
    }
    if (w === -1 && s !== this.#cur[c]) {
      // The word was full (so may have been the whole span): list the span
      // as having a free slot.
      or(m, this.#availBase + c * this.#availWords + (s >>> 5), 1 << (s & 31));
    }
  }

  /** Usable bytes of a live block (its size class, or its whole spans). */
  sizeOfHandle(handle: number): number {
    brand(this);
    this.#live();
    return sizeOf(this.#locate(handle, 'handle'));
  }

  /**
   * Resizes a block keeping its bytes: the same handle while `size` fits its
   * class (or its spans), else a new block, a copy and a free of the old one
   * (the old block is untouched when the allocation fails).
   */
  reallocHandle(handle: number, size: number): number {
    brand(this);
    this.#live();
    const c = this.#locate(handle, 'handle');
    const old = sizeOf(c);
    if (c >= 0 && !(typeof size === 'number' && size > MAX_BLOCK)) {
      if (SIZES[classOf(size, undefined)]! <= old) return handle;
    } else if (c < 0 && typeof size === 'number' && isInteger(size) && size >= 0 && size <= old) return handle;
    const h = this.allocHandle(size);
    copyWithinOf(this.#heap!, h, handle, handle + min(old, size));
    this.freeHandle(handle);
    return h;
  }

  /** A Uint8Array over a live block (`length` at most its size, default all of it). */
  bytes(handle: number, length?: number): Uint8Array {
    brand(this);
    this.#live();
    const size = sizeOf(this.#locate(handle, 'handle'));
    const len = length === undefined ? size : checkArenaInteger('length', length, 0, size);
    return new U8(this.#heap!.buffer, handle, len);
  }

  /** Counts over every span (see {@link SharedArenaStats}). */
  stats(): SharedArenaStats {
    brand(this);
    this.#live();
    const m = this.#meta;
    const taken = min(load(m, H_NEXT), this.#spans);
    let handles = 0;
    let allocated = 0;
    for (let s = 0; s < taken; s++) {
      const w = load(m, this.#spanBase + s * SPAN_WORDS);
      if (w > COUNT) {
        // A run of spans: live, being freed or free.
        const n = runSpans(w);
        if (isLiveRun(w)) {
          handles++;
          allocated += n * SPAN;
        }
        s += n - 1;
        continue;
      }
      const c = w - 1;
      if (c < 0) continue; // taken by a worker terminated before it published the span
      let live = 0;
      for (let i = 0; i < USED_WORDS[c]!; i++) live += popcount(load(m, this.#bitsBase + s * WORDS + i));
      live -= popcount(TAIL[c]!);
      handles += live;
      allocated += live * SIZES[c]!;
    }
    return {
      reserved: this.#spans * SPAN,
      spans: taken * SPAN,
      handles,
      allocated,
      bookkeepingBytes: m.byteLength,
      holders: this.#mapping.sharedHolders,
    };
  }

  /**
   * Lets go of the arena in this thread: `heap` and `data` are detached here,
   * and this thread's methods throw `ERR_INVALID_STATE`. Blocks stay live
   * and the memory stays mapped for the other threads; it is unmapped when
   * the last holder closes (or its SharedArena is collected). Idempotent.
   */
  close(): void {
    brand(this);
    if (this.#closed) return;
    this.#closed = true;
    // The spans this thread was filling go back to their classes' lists.
    const m = this.#meta;
    for (let c = 0; c < COUNT; c++) {
      const s = this.#cur[c]!;
      if (s >= 0) or(m, this.#availBase + c * this.#availWords + (s >>> 5), 1 << (s & 31));
      this.#cur[c] = -1;
    }
    this.#heap = null;
    this.#data = null;
    this.#mapping.unmap();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Usable bytes of a block of class `c`, or of `-c` spans. */
function sizeOf(c: number): number {
  return c >= 0 ? SIZES[c]! : -c * SPAN;
}
