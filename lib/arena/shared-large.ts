/**
 * Blocks of a SharedArena above its largest size class: runs of whole
 * 64 KiB spans, lock-free as the rest.
 *
 * A run's first span word says what the run is: live (`RUN_LIVE | spans`),
 * being freed by one thread (`RUN_FREEING | spans`) or free for reuse
 * (`RUN_FREE | spans`); its other span words stay 0 (not a block start).
 * A run is taken by compare-and-swap: from a free run of at least as many
 * spans (first fit; the rest of it becomes a free run of its own) or from
 * the bump counter. Freeing swaps live to freeing (of two threads freeing
 * one block exactly one wins), gives the pages back (`madvise(DONTNEED)`:
 * a large block is usually written whole, and keeping it would keep that
 * much memory resident for nothing) and only then publishes the run as
 * free, so no other thread can be handed pages the give-back would zero.
 * Free runs are not merged. A thread terminated between two steps loses
 * the run until the arena goes (never hands it out twice).
 * @internal
 */
import { type Mapping } from '../mapping';
import { outOfRange } from '../errors';
import { checkArenaInteger } from './checks';
import { ceil, min } from './intrinsics';
import { H_NEXT, SPAN } from './shared-layout';

const { load, store, compareExchange } = Atomics;

const KIND = 0x70000000;
const LEN = 0x0fffffff;
export const RUN_LIVE = 0x10000000;
const RUN_FREEING = 0x20000000;
const RUN_FREE = 0x30000000;

/** Whether a span word is the head of a live run; its spans are `w & 0x0fffffff`. */
export function isLiveRun(w: number): boolean {
  return (w & KIND) === RUN_LIVE;
}

export function runSpans(w: number): number {
  return w & LEN;
}

/**
 * Spans of a block of `size` bytes above the largest class, after checking
 * `align` (a power of two up to a span: runs start on a span) and that it
 * can fit `spans` spans at all (`ERR_OUT_OF_RANGE`).
 */
export function spansFor(size: number, align: unknown, spans: number): number {
  if (align !== undefined) {
    const a = checkArenaInteger('align', align, 1, SPAN);
    if ((a & (a - 1)) !== 0) throw outOfRange('align', 'a power of two', align);
  }
  const k = ceil(size / SPAN);
  if (k > spans) throw outOfRange('size', `<= ${spans * SPAN} (the SharedArena's reservation)`, size);
  return k;
}

/** Takes a run of `k` spans: its first span, or -1 when no free run fits and the bump counter has no room. */
export function takeRun(m: Int32Array, spanBase: number, spans: number, k: number): number {
  const taken = min(load(m, H_NEXT), spans);
  for (let s = 0; s < taken; ) {
    const w = load(m, spanBase + s);
    const kind = w & KIND;
    if (kind === 0) {
      s++;
      continue;
    }
    const n = w & LEN;
    if (kind === RUN_FREE && n >= k && compareExchange(m, spanBase + s, w, RUN_LIVE | k) === w) {
      if (n > k) store(m, spanBase + s + k, RUN_FREE | (n - k));
      return s;
    }
    s += n > 0 ? n : 1;
  }
  for (;;) {
    const next = load(m, H_NEXT);
    if (next + k > spans) return -1;
    if (compareExchange(m, H_NEXT, next, next + k) !== next) continue;
    store(m, spanBase + next, RUN_LIVE | k); // published: its handle can be checked from here on
    return next;
  }
}

/**
 * Frees the live run whose head word was read as `w` at span `s`; false
 * when another thread freed it first (a double free). The pages go back to
 * the kernel before the run is published as free.
 */
export function freeRun(m: Int32Array, spanBase: number, mapping: Mapping, s: number, w: number): boolean {
  const k = w & LEN;
  if (compareExchange(m, spanBase + s, w, RUN_FREEING | k) !== w) return false;
  mapping.advise('dontneed', s * SPAN, k * SPAN);
  store(m, spanBase + s, RUN_FREE | k);
  return true;
}
