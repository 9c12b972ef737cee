/**
 * The contenders of the arena workloads (handle-workloads.ts): one
 * {@link Allocator} each, made in the child process that runs it.
 * @internal
 */
import { Arena } from '../arena/arena';
import { JsSlabPool, type PoolBlock } from './js-pool';

/** What one contender does with a block. Each child uses one, so every call site stays monomorphic. */
export interface Allocator<T> {
  readonly empty: T;
  alloc(size: number): T;
  free(block: T): void;
  /** Writes `v` over bytes `[0, n)` of the block. */
  fill(block: T, v: number, n: number): void;
  /** Writes one byte. */
  poke(block: T, at: number, v: number): void;
  read(block: T, at: number): number;
  /** Gives memory back after everything was freed. */
  settle(): void;
  /** Frees every live block at once, where freeing them one by one would take quadratic time (`@thi.ng/malloc`). */
  freeAll?(): void;
  /** The arena's own resident bytes (mincore) plus its bookkeeping, after settle(); -1 for other contenders. */
  own(): number;
}

const fillU8 = Uint8Array.prototype.fill;

function handleAllocator(hugePages?: boolean): Allocator<number> {
  const arena = new Arena({ reserve: 2 ** 32, ...(hugePages ? { hugePages } : {}) });
  return {
    empty: -1,
    alloc: (n) => arena.allocHandle(n),
    free: (h) => arena.freeHandle(h),
    fill: (h, v, n) => void fillU8.call(arena.heap, v, h, h + n),
    poke: (h, at, v) => void (arena.heap[h + at] = v),
    read: (h, at) => arena.heap[h + at]!,
    settle: () => {
      arena.purge();
      gcTwice();
    },
    own: () => ownBytes(arena),
  };
}

function viewAllocator(): Allocator<Uint8Array | null> {
  const arena = new Arena({ reserve: 2 ** 34 });
  return {
    empty: null,
    alloc: (n) => arena.alloc(n),
    free: (v) => arena.free(v!),
    fill: (v, x, n) => void fillU8.call(v!, x, 0, n),
    poke: (v, at, x) => void (v![at] = x),
    read: (v, at) => v![at]!,
    settle: () => {
      arena.purge();
      gcTwice();
    },
    own: () => ownBytes(arena),
  };
}

function bufferAllocator(): Allocator<Buffer | null> {
  return {
    empty: null,
    alloc: (n) => Buffer.allocUnsafe(n),
    free: () => {},
    fill: (b, v, n) => void fillU8.call(b!, v, 0, n),
    poke: (b, at, v) => void (b![at] = v),
    read: (b, at) => b![at]!,
    settle: () => gcTwice(),
    own: () => -1,
  };
}

function poolAllocator(): Allocator<PoolBlock | null> {
  let pool = new JsSlabPool();
  return {
    empty: null,
    alloc: (n) => pool.alloc(n),
    free: (b) => pool.free(b!),
    fill: (b, v, n) => void fillU8.call(b!.buf, v, b!.off, b!.off + n),
    poke: (b, at, v) => void (b!.buf[b!.off + at] = v),
    read: (b, at) => b!.buf[b!.off + at]!,
    settle: () => {
      pool = new JsSlabPool();
      gcTwice();
    },
    own: () => -1,
  };
}

/**
 * `@thi.ng/malloc` (the JS allocator on npm, a dev dependency only): one
 * fixed ArrayBuffer (it cannot grow; addresses are 32-bit, so 3 GiB, which
 * is not resident until written), first fit over an address-sorted free
 * list with splitting and compaction (its defaults). Free-all is its
 * `freeAll()`, then two GCs: the buffer's pages stay resident (nothing in
 * the package gives them back), which the after-free-all column shows.
 */
async function thingAllocator(): Promise<Allocator<number>> {
  // An ES module: imported here, in the child that runs it, never at load.
  const { MemPool } = await import('@thi.ng/malloc');
  const pool = new MemPool({ size: 3 * 2 ** 30 });
  const u8 = new Uint8Array(pool.buf);
  return {
    empty: 0,
    alloc: (n) => {
      const p = pool.malloc(n);
      if (p === 0) throw new RangeError(`@thi.ng/malloc: no block of ${n} bytes in its 3 GiB`);
      return p;
    },
    free: (p) => void pool.free(p),
    fill: (p, v, n) => void fillU8.call(u8, v, p, p + n),
    poke: (p, at, v) => void (u8[p + at] = v),
    read: (p, at) => u8[p + at]!,
    settle: () => gcTwice(),
    // Its free() inserts into a free list sorted by address: freeing 1e6
    // blocks one by one after the workload did not end in 10 minutes.
    freeAll: () => pool.freeAll(),
    own: () => -1,
  };
}

function ownBytes(arena: Arena): number {
  const s = arena.stats({ resident: true });
  return s.resident + s.bookkeepingBytes;
}

export function gcTwice(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

/** `@thi.ng/malloc` is a dev dependency: a contender only where it resolves. */
export function thingInstalled(): boolean {
  try {
    require.resolve('@thi.ng/malloc');
    return true;
  } catch {
    return false;
  }
}

/** The allocator of a JS contender: `handles`, `handles-thp`, `views`, `buffer`, `thing-malloc` or `pool`. */
export async function makeAllocator(contender: string): Promise<Allocator<unknown>> {
  return contender === 'handles' ? (handleAllocator() as Allocator<unknown>)
    : contender === 'handles-thp' ? (handleAllocator(true) as Allocator<unknown>)
      : contender === 'views' ? (viewAllocator() as Allocator<unknown>)
        : contender === 'buffer' ? (bufferAllocator() as Allocator<unknown>)
          : contender === 'thing-malloc' ? ((await thingAllocator()) as Allocator<unknown>)
            : (poolAllocator() as Allocator<unknown>);
}
