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
