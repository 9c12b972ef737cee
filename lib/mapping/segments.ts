/**
 * Sorted, disjoint ranges of a mapping: its protection segments and its guard
 * ranges, the updates `protect()`, `guard()` and `resize()` make to them, and
 * the checks made on them before JS is given a view.
 */
import { isWritable, type Prot } from './flags';
import { invalidState } from '../errors';

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

/**
 * `segs` (sorted, covering [0, `length`) without gaps) with [start, end) set
 * to `prot`.
 */
export function setSegment(segs: Segment[], length: number, start: number, end: number, prot: Prot): Segment[] {
  // The common case, the whole mapping, without walking the list.
  if (start === 0 && end >= length) return [{ start: 0, end: length, prot }];
  // Segments are sorted and cover [0, length) without gaps: one pass keeps
  // what lies outside [start, end), puts the new segment in its place and
  // merges neighbours of equal protection.
  const out: Segment[] = [];
  let placed = false;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s.end <= start) {
      addSegment(out, s.start, s.end, s.prot);
      continue;
    }
    if (s.start < start) addSegment(out, s.start, start, s.prot);
    if (!placed && s.end > start) {
      addSegment(out, start, end, prot);
      placed = true;
    }
    if (s.end > end) addSegment(out, Math.max(s.start, end), s.end, s.prot);
  }
  if (!placed) addSegment(out, start, end, prot);
  return out;
}

/** The segments below `end`, the last one cut at `end` (a mapping shrunk to `end` bytes). */
export function truncateSegments(segs: Segment[], end: number): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < segs.length; i++) {
    const sg = segs[i]!;
    if (sg.start < end) addSegment(out, sg.start, Math.min(sg.end, end), sg.prot);
  }
  return out;
}

/** Whether one writable segment covers the mapping: what share() and sharedBuffer need. */
export function readWriteThroughout(segs: Segment[]): boolean {
  return segs.length === 1 && isWritable(segs[0]!.prot);
}

/** Bytes the ranges cover. */
export function rangeBytes(ranges: Segment[]): number {
  let n = 0;
  for (let i = 0; i < ranges.length; i++) n += ranges[i]!.end - ranges[i]!.start;
  return n;
}

/**
 * Throws `ERR_INVALID_STATE` unless JS may hold an ArrayBuffer over
 * [off, off + len): no guard page and no protection without write in it.
 */
export function checkWritable(guards: Segment[], segs: Segment[], off: number, len: number): void {
  for (let i = 0; i < guards.length; i++) {
    if (guards[i]!.start < off + len && off < guards[i]!.end) {
      throw invalidState(`Bytes ${guards[i]!.start}..${guards[i]!.end} of the mapping are guard pages: any access kills the process. unguard() them first`);
    }
  }
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s.start < off + len && off < s.end && !isWritable(s.prot)) {
      throw invalidState(
        `Bytes ${s.start}..${s.end} of the mapping have protection '${s.prot}': JS cannot hold a read-only ` +
          `ArrayBuffer (a write would kill the process). Protect them 'rw' first, or use unsafe.view()`,
      );
    }
  }
}
