/**
 * The layout of a SharedArena: its 64 KiB spans, the size classes and their
 * slots per span, the words of its metadata (header, per-span class, slot
 * bitmaps, per-class bitmaps of spans with free slots), and the checks of a
 * request's size and alignment.
 * @internal
 */
import { invalidType, invalidValue, outOfRange } from '../errors';
import { checkArenaInteger } from './checks';
import { CLASS_QUANTUM, sizeClasses } from './classes';
import { clz32, floor, I32, isInteger } from './intrinsics';

export const SPAN_SHIFT = 16;
/** Bytes per span: the unit a size class takes from the arena. */
export const SPAN = 1 << SPAN_SHIFT;
/** Bitmap words per span (enough for the smallest class, 16 bytes). */
export const WORDS = SPAN / CLASS_QUANTUM / 32;
export const MAGIC = 0x50475341; // 'PGSA'
export const VERSION = 1;

// Header words of the metadata.
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_SPANS = 2;
export const H_NEXT = 3;
/** The memory's share id (its low and high 32 bits): pairs this metadata with that memory. */
export const H_ID_LO = 4;
export const H_ID_HI = 5;
export const HEADER = 8;
/** Per span: its class + 1 (0 = not taken). Nothing per span is written after that, so neighbouring spans share no written cache line. */
export const SPAN_WORDS = 1;

const CLASSES = sizeClasses(SPAN);
export const COUNT = CLASSES.sizes.length;
/** Largest block a SharedArena hands out (8 KiB): eight to a span. */
export const MAX_BLOCK = CLASSES.max;
export const SIZES = new I32(COUNT);
export const SLOTS = new I32(COUNT);
export const USED_WORDS = new I32(COUNT);
export const TAIL = new I32(COUNT);
for (let c = 0; c < COUNT; c++) {
  const size = CLASSES.sizes[c]!;
  SIZES[c] = size;
  const slots = floor(SPAN / size);
  SLOTS[c] = slots;
  USED_WORDS[c] = (slots + 31) >>> 5;
  // Bits past the last slot of the last word are set for good: never free.
  const rest = slots & 31;
  TAIL[c] = rest === 0 ? 0 : ~((1 << rest) - 1);
}
const BY_QUANTUM = CLASSES.byQuantum;

/** The metadata's layout for `spans` spans, in Int32 words. */
export function layout(spans: number): { spanBase: number; bitsBase: number; availBase: number; availWords: number; words: number } {
  const spanBase = HEADER;
  const bitsBase = spanBase + spans * SPAN_WORDS;
  const availBase = bitsBase + spans * WORDS;
  const availWords = (spans + 31) >>> 5;
  return { spanBase, bitsBase, availBase, availWords, words: availBase + COUNT * availWords };
}

export function notLive(name: string, handle: unknown): TypeError {
  return invalidValue(name, 'is not a live handle block of this SharedArena (freed already, in this worker or another; never handed out; or not a block start)', handle);
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** The class of a request, after checking its arguments. */
export function classOf(size: unknown, align: unknown): number {
  if (typeof size !== 'number') throw invalidType('size', 'of type number', size);
  if (!isInteger(size) || size < 0 || size > MAX_BLOCK) throw outOfRange('size', `an integer >= 0 and <= ${MAX_BLOCK} (SharedArena.maxBlock)`, size);
  let s = size;
  if (align !== undefined) {
    const a = checkArenaInteger('align', align, 1, MAX_BLOCK);
    if ((a & (a - 1)) !== 0) throw outOfRange('align', 'a power of two', align);
    if (a > CLASS_QUANTUM) {
      // A power-of-two class is aligned to its size (spans are 64 KiB aligned).
      s = size < a ? a : 2 ** (32 - clz32(size - 1));
      if (s > MAX_BLOCK) throw outOfRange('size', `<= ${MAX_BLOCK} once rounded up to a power of two for align ${a}`, size);
    }
  }
  return BY_QUANTUM[(s + CLASS_QUANTUM - 1) >>> 4]!;
}
