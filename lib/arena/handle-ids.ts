/**
 * What a handle number is: a block's byte offset below {@link handleLimit},
 * and with checked handles (`handleGenerations`) the generation of the
 * granule it starts at and the epoch of `reset()`s above it.
 * @internal
 */
import { maxArrayBufferLength } from '../kernel/system';
import { min } from './intrinsics';

/**
 * A checked handle is `(epoch * 65536 + generation) * GEN_UNIT + offset`:
 * generation 1..MAX_GEN of the 16-byte granule the block starts at (bumped
 * each time a block starting there is freed, whatever its kind or class),
 * epoch 0..31 counting `reset()`s (which free every block at once).
 */
export const GEN_UNIT = 2 ** 32;
export const MAX_GEN = 65535;
export const EPOCHS = 32;

/** Offsets of handle blocks stay below this: one `heap` buffer reaches every block, and `h >>> 0` checks a handle. */
export function handleLimit(): number {
  return min(maxArrayBufferLength(), 2 ** 32);
}

/** A stored generation (0 reads as 1: never handed out yet). */
export function genOf(gens: Uint16Array, k: number): number {
  const g = gens[k]!;
  return g === 0 ? 1 : g;
}

/** The generation after `g` (1..MAX_GEN, wrapping). */
export function nextGen(g: number): number {
  return g >= MAX_GEN ? 1 : g === 0 ? 2 : g + 1;
}
