/** Sorted, disjoint ranges of a mapping: its protection segments and its guard ranges. */
import type { Prot } from '../flags';

/** Captured at load: later patches of `Number` do not reach the range checks. */
const isSafeInteger = Number.isSafeInteger;

/** @internal */
export interface Segment {
  start: number;
  end: number;
  prot: Prot;
}

/**
 * The fast paths' test: `offset` and `length` are integers, `offset` (and
 * with `alignLength` also `length`) a multiple of `page`, and the range lies
 * inside `size` bytes. Anything else takes the full checks, which name what
 * is wrong.
 */
export function plainRange(offset: unknown, length: unknown, size: number, page: number, alignLength: boolean): boolean {
  return (
    typeof offset === 'number' && typeof length === 'number' && isSafeInteger(offset) && isSafeInteger(length) &&
    offset >= 0 && length >= 0 && offset % page === 0 && (!alignLength || length % page === 0) && length <= size - offset
  );
}

/** Adds (`add`) or removes [start, end) from sorted, disjoint ranges. */
export function mergeRanges(ranges: Segment[], start: number, end: number, add: boolean): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (r.end <= start || r.start >= end) out[out.length] = r;
    else {
      if (r.start < start) out[out.length] = { start: r.start, end: start, prot: 'none' };
      if (r.end > end) out[out.length] = { start: end, end: r.end, prot: 'none' };
      if (add) {
        start = Math.min(start, r.start);
        end = Math.max(end, r.end);
      }
    }
  }
  if (add) out[out.length] = { start, end, prot: 'none' };
  out.sort((a, b) => a.start - b.start);
  // Adjacent ranges merge.
  const merged: Segment[] = [];
  for (let i = 0; i < out.length; i++) {
    const last = merged[merged.length - 1];
    if (last && last.end >= out[i]!.start) last.end = Math.max(last.end, out[i]!.end);
    else merged[merged.length] = { ...out[i]! };
  }
  return merged;
}

/** Appends [start, end) to sorted, contiguous segments, merging with the last one when the protection is the same. */
export function addSegment(out: Segment[], start: number, end: number, prot: Prot): void {
  const last = out[out.length - 1];
  if (last && last.prot === prot && last.end === start) last.end = end;
  else out[out.length] = { start, end, prot };
}
