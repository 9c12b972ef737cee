/**
 * Measurement helpers shared by the experiments: the process's exact RSS,
 * a clock and a median.
 * @internal
 */
import { native } from '../native/binding';

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

/**
 * How `ns` compares with `baseNs` in words, a ratio always above 1:
 * `2.0x cheaper`, `1.3x dearer`, or `the same` within 5%. (A ratio below 1
 * is never called cheaper or slower.)
 */
export function costWords(ns: number, baseNs: number): string {
  if (!(ns > 0 && baseNs > 0)) return 'not comparable';
  const r = ns / baseNs;
  if (r < 1 / 1.05) return `${(1 / r).toFixed(1)}x cheaper`;
  if (r > 1.05) return `${r.toFixed(1)}x dearer`;
  return 'the same within 5%';
}
