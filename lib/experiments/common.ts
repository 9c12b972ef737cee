/**
 * Measurement helpers shared by the experiments: the process's exact RSS,
 * a clock and a median.
 * @internal
 */
import { native } from '../native';

/** Exact RSS of this process, from `smaps_rollup` (a page-table walk). */
export function processRss(): number {
  return native.smapsRollupRss();
}

/** Nanoseconds since an arbitrary origin, as a number. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Median of numbers (NaN for none). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
