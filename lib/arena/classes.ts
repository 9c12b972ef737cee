/**
 * Size classes of the arena's small blocks: 16 to 128 bytes in steps of 16,
 * then four classes per doubling (160, 192, 224, 256, 320, ...) up to an
 * eighth of a slab, so rounding wastes at most 20% (mimalloc's spacing).
 * Every class is a multiple of 16, so a request's class is one table lookup
 * by `ceil(size / 16)`.
 * @internal
 */

/** Granularity of the lookup table: every class size is a multiple of this. */
export const CLASS_QUANTUM = 16;

/** The size classes for slabs of `slabBytes`: sizes and the lookup table. */
export interface SizeClasses {
  /** Class sizes in bytes, ascending. */
  readonly sizes: readonly number[];
  /** Largest size served from slabs (the last class). */
  readonly max: number;
  /** `byQuantum[ceil(size / 16)]` is the class index of `size` (0 for size 0). */
  readonly byQuantum: Uint8Array;
}

/** Builds the classes for slabs of `slabBytes` (classes up to `slabBytes / 8`, at least 8 blocks a slab). */
export function sizeClasses(slabBytes: number): SizeClasses {
  const limit = Math.floor(slabBytes / 8 / CLASS_QUANTUM) * CLASS_QUANTUM;
  const sizes: number[] = [];
  for (let s = CLASS_QUANTUM; s <= 128 && s <= limit; s += CLASS_QUANTUM) sizes.push(s);
  for (let base = 128; base < limit; base *= 2) {
    const step = base / 4;
    for (let k = 1; k <= 4 && base + k * step <= limit; k++) sizes.push(base + k * step);
  }
  const max = sizes[sizes.length - 1]!;
  const byQuantum = new Uint8Array(max / CLASS_QUANTUM + 1);
  let c = 0;
  for (let q = 0; q < byQuantum.length; q++) {
    while (sizes[c]! < q * CLASS_QUANTUM) c++;
    byQuantum[q] = c;
  }
  return { sizes, max, byQuantum };
}

/** Slabs of small blocks are this size (or one page where pages are larger). */
const SLAB_BYTES = 64 * 1024;

/** The arena's classes for this kernel's page size, as typed tables. */
export interface ArenaClasses {
  readonly slabBytes: number;
  readonly sizes: Uint32Array;
  readonly count: number;
  readonly max: number;
  readonly byQuantum: Uint8Array;
  /** The keys of `freeBytesByClass` (`'16'`, `'32'`, ...). */
  readonly keys: readonly string[];
}

/** The arena's size classes for pages of `page` bytes (computed once at load by the arena). */
export function arenaClasses(page: number): ArenaClasses {
  const slabBytes = Math.ceil(SLAB_BYTES / page) * page;
  const c = sizeClasses(slabBytes);
  const count = c.sizes.length;
  const sizes = new Uint32Array(count);
  for (let i = 0; i < count; i++) sizes[i] = c.sizes[i]!;
  return { slabBytes, sizes, count, max: c.max, byQuantum: c.byQuantum, keys: c.sizes.map(String) };
}
