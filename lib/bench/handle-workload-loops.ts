/**
 * The loops of the arena workloads (handle-workloads.ts), generic over an
 * {@link Allocator}; handle-workloads-c.ts runs the same loops in C on the
 * same random sequence.
 * @internal
 */
import { pageSize } from '../kernel/system';
import { type Allocator } from './handle-allocators';

/** xorshift32: the same sequence in the C program. */
export class Rng {
  x: number;
  constructor(seed: number) {
    this.x = seed | 0 || 1;
  }
  next(): number {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x;
    return x >>> 0;
  }
}

export interface Sizes {
  lruRecords: number;
  lruKeys: number;
  lruOps: number;
  replacements: number;
  mixedSlots: number;
  mixedRounds: number;
  simpleTotal: number;
  /** malloc-large: blocks allocated, written whole and freed one at a time. */
  largeIters: number;
  /** alloc-test: slots (about half live; at least 2^14, so its hottest Pareto range holds a slot) and operations. */
  allocItems: number;
  allocOps: number;
}

export function sizesFor(quick: boolean): Sizes {
  return quick
    ? { lruRecords: 2000, lruKeys: 3000, lruOps: 10000, replacements: 10000, mixedSlots: 200, mixedRounds: 2, simpleTotal: 4000, largeIters: 20, allocItems: 2 ** 14, allocOps: 10_000 }
    : { lruRecords: 200_000, lruKeys: 300_000, lruOps: 1_000_000, replacements: 1_000_000, mixedSlots: 8000, mixedRounds: 5, simpleTotal: 400_000,
      largeIters: 5000, allocItems: 2 ** 18, allocOps: 10_000_000 };
}

/** Workload names in the order they run. */
export const WORKLOADS = ['lru', 'small64-1000', 'small64-100000', 'small64-1000000', 'mixed', 'glibc-simple', 'malloc-large', 'alloc-test'] as const;

/** Runs a workload; returns the live blocks (to free after measuring) and a checksum. */
export function runWorkload<T>(name: string, a: Allocator<T>, z: Sizes, rng: Rng): { live: T[]; sum: number } {
  if (name === 'lru') return lru(a, z, rng);
  if (name.startsWith('small64-')) return small64(a, Number(name.slice(8)), z.replacements, rng);
  if (name === 'mixed') return mixed(a, z, rng);
  if (name === 'glibc-simple') return simple(a, z.simpleTotal);
  if (name === 'malloc-large') return mallocLarge(a, z.largeIters);
  if (name === 'alloc-test') return allocTest(a, z, rng);
  throw new Error(`unknown workload ${name}`);
}

function lru<T>(a: Allocator<T>, z: Sizes, rng: Rng): { live: T[]; sum: number } {
  const cap = z.lruRecords;
  const slotOfKey = new Int32Array(z.lruKeys).fill(-1);
  const keyOf = new Int32Array(cap);
  const sizeOf = new Int32Array(cap);
  const prev = new Int32Array(cap);
  const next = new Int32Array(cap);
  const blocks: T[] = new Array<T>(cap).fill(a.empty);
  let head = -1;
  let tail = -1;
  let count = 0;
  let sum = 0;
  const unlink = (s: number): void => {
    const p = prev[s]!;
    const n = next[s]!;
    if (p >= 0) next[p] = n;
    else head = n;
    if (n >= 0) prev[n] = p;
    else tail = p;
  };
  const front = (s: number): void => {
    prev[s] = -1;
    next[s] = head;
    if (head >= 0) prev[head] = s;
    head = s;
    if (tail < 0) tail = s;
  };
  const insert = (key: number): void => {
    const size = 100 + (rng.next() % 1901);
    let s: number;
    if (count === cap) {
      s = tail;
      unlink(s);
      a.free(blocks[s]!);
      slotOfKey[keyOf[s]!] = -1;
    } else s = count++;
    const b = a.alloc(size);
    a.fill(b, key & 255, size);
    blocks[s] = b;
    keyOf[s] = key;
    sizeOf[s] = size;
    slotOfKey[key] = s;
    front(s);
  };
  for (let k = 0; k < cap; k++) insert(k);
  for (let i = 0; i < z.lruOps; i++) {
    const key = rng.next() % z.lruKeys;
    const s = slotOfKey[key]!;
    if (s < 0) insert(key);
    else {
      sum += a.read(blocks[s]!, sizeOf[s]! - 1);
      if (s !== head) {
        unlink(s);
        front(s);
      }
    }
  }
  return { live: blocks.slice(0, count), sum };
}

function small64<T>(a: Allocator<T>, n: number, replacements: number, rng: Rng): { live: T[]; sum: number } {
  const blocks: T[] = new Array<T>(n).fill(a.empty);
  for (let i = 0; i < n; i++) {
    const b = a.alloc(64);
    a.fill(b, i & 255, 64);
    blocks[i] = b;
  }
  let sum = 0;
  for (let r = 0; r < replacements; r++) {
    const i = rng.next() % n;
    sum += a.read(blocks[i]!, 63);
    a.free(blocks[i]!);
    const b = a.alloc(64);
    a.fill(b, r & 255, 64);
    blocks[i] = b;
  }
  return { live: blocks, sum };
}

function mixed<T>(a: Allocator<T>, z: Sizes, rng: Rng): { live: T[]; sum: number } {
  const page = pageSize();
  const slots = z.mixedSlots;
  const blocks: T[] = new Array<T>(slots).fill(a.empty);
  const full = new Uint8Array(slots);
  let sum = 0;
  for (let round = 0; round < z.mixedRounds; round++) {
    for (let s = 0; s < slots; s++) {
      if (full[s]) continue;
      const base = 16 << (rng.next() % 16);
      const size = base + (rng.next() % base);
      const b = a.alloc(size);
      for (let off = 0; off < size; off += page) a.poke(b, off, s & 255);
      a.poke(b, size - 1, round);
      blocks[s] = b;
      full[s] = 1;
    }
    for (let s = 0; s < slots; s++) {
      if (rng.next() & 1) {
        sum += a.read(blocks[s]!, 0);
        a.free(blocks[s]!);
        blocks[s] = a.empty;
        full[s] = 0;
      }
    }
  }
  const live: T[] = [];
  for (let s = 0; s < slots; s++) if (full[s]) live.push(blocks[s]!);
  return { live, sum };
}

function simple<T>(a: Allocator<T>, total: number): { live: T[]; sum: number } {
  for (const size of [16, 256, 1024, 4 * 1024]) { // block sizes, as glibc-simple's
    for (const n of [25, 100, 400, 1600]) {
      const blocks: T[] = new Array<T>(n).fill(a.empty);
      const iters = Math.floor(total / n);
      for (let it = 0; it < iters; it++) {
        for (let i = 0; i < n; i++) blocks[i] = a.alloc(size);
        for (let i = 0; i < n; i++) a.free(blocks[i]!);
      }
    }
  }
  return { live: [], sum: 0 };
}

/** Bytes of each malloc-large block: `1ull << 21`. */
const LARGE_BLOCK = 2 * 1024 * 1024;

/**
 * mimalloc-bench's malloc-large (bench/malloc-large/malloc-large.cpp, by
 * Danila Kutenin): 5,000 times, a 2 MiB block allocated, every byte
 * written ('x'), freed. One thread, as there. What differs: the write is
 * `fill` (the original's byte loop, which compilers turn into memset), and
 * the last byte is read before the free, for a checksum.
 */
function mallocLarge<T>(a: Allocator<T>, iters: number): { live: T[]; sum: number } {
  let sum = 0;
  for (let i = 0; i < iters; i++) {
    const b = a.alloc(LARGE_BLOCK);
    a.fill(b, 0x78, LARGE_BLOCK);
    sum += a.read(b, LARGE_BLOCK - 1);
    a.free(b);
  }
  return { live: [], sum };
}

/** alloc-test's Pareto 80/20 over 6 levels: the share of picks per range of slots. */
const PARETO = [0.262144, 0.393216, 0.24576, 0.08192, 0.01536, 0.001536, 0.000064];
const U32_MAX = 4294967295;

/** The slot ranges and probability bounds of alloc-test's `Pareto_80_20_6_Init`, computed as there (doubles truncated to uint32). */
export function paretoTables(items: number): { ranges: number[]; offsets: number[] } {
  const ranges = [Math.trunc(U32_MAX * PARETO[0]!)];
  for (let i = 1; i < 5; i++) ranges[i] = ranges[i - 1]! + Math.trunc(U32_MAX * PARETO[i]!);
  ranges[5] = Math.trunc(U32_MAX * (1 - PARETO[6]!));
  const offsets = [0];
  for (let i = 0; i < 6; i++) offsets[i + 1] = offsets[i]! + Math.trunc(items * PARETO[6 - i]!);
  offsets[7] = items;
  return { ranges, offsets };
}

/**
 * alloc-test's `calcSizeWithStatsAdjustment(r, 10)`: 5 B to 1 KiB, each
 * power-of-two range half as likely as the one below it.
 */
export function allocTestSize(r: number): number {
  const base = (r & 127) + 1;
  const idx = 31 - Math.clz32(base & -base) + 2;
  return ((r >>> 7) & ((1 << idx) - 1)) + 1 + (1 << idx);
}

/**
 * mimalloc-bench's alloc-test (Ville Rantanen's port of OLogN's allocator
 * tester, bench/alloc-test/allocator_tester.h, `randomPos_RandomSize`),
 * single-thread variant (`alloc-test 1`): 2^18 slots, about half filled at
 * setup, then operations on a slot picked by a Pareto 80/20 law (hot slots
 * picked most): a live slot's block is read whole and freed, an empty
 * slot gets a new block of 5 B-1 KiB written whole (`MEM_ACCESS_TYPE::full`).
 * What differs: 1e7 operations, not 1e8 (one run would take minutes in JS);
 * xorshift32 (the sequence the C baseline shares), one 32-bit draw per size
 * (the original draws 64 bits and uses 16); the read is one byte per 8
 * (the original sums 64-bit words: one load per word either way, and the
 * checksum matches the C baseline's); the slot table is a JS array and an
 * Int32Array, not a block of the allocator under test.
 */
function allocTest<T>(a: Allocator<T>, z: Sizes, rng: Rng): { live: T[]; sum: number } {
  const items = z.allocItems;
  const { ranges, offsets } = paretoTables(items);
  const blocks: T[] = new Array<T>(items).fill(a.empty);
  const size = new Int32Array(items);
  let sum = 0;
  for (let i = 0; i < items >>> 5; i++) {
    const bits = rng.next();
    for (let j = 0; j < 32; j++) {
      if (((bits >>> j) & 1) === 0) continue;
      const sz = allocTestSize(rng.next());
      const b = a.alloc(sz);
      a.fill(b, sz & 255, sz);
      blocks[i * 32 + j] = b;
      size[i * 32 + j] = sz;
    }
  }
  const per = Math.trunc(z.allocOps / 32);
  for (let k = 0; k < 32; k++) {
    for (let j = 0; j < per; j++) {
      const r1 = rng.next();
      const r2 = rng.next();
      let lvl = 6;
      for (let l = 0; l < 6; l++) {
        if (r1 < ranges[l]!) {
          lvl = l;
          break;
        }
      }
      const idx = offsets[lvl]! + (r2 % (offsets[lvl + 1]! - offsets[lvl]!));
      const sz = size[idx]!;
      if (sz !== 0) {
        const b = blocks[idx]!;
        for (let o = 0; o < sz; o += 8) sum += a.read(b, o);
        a.free(b);
        blocks[idx] = a.empty;
        size[idx] = 0;
      } else {
        const n = allocTestSize(rng.next());
        const b = a.alloc(n);
        a.fill(b, n & 255, n);
        blocks[idx] = b;
        size[idx] = n;
      }
    }
  }
  const live: T[] = [];
  for (let i = 0; i < items; i++) if (size[i] !== 0) live.push(blocks[i]!);
  return { live, sum };
}
