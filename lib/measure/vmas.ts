/** Exact figures of one mapping's VMAs: resident bytes (smaps) and how many VMAs it spans (maps). @internal */
import { readSmaps } from '../kernel/smaps';
import { readMaps } from '../kernel/maps';
import type { Mapping } from '../mapping';

/** Exact resident bytes of one mapping: the smaps `Rss` of every VMA inside it (excludes the shared zero page). */
export function mappingRss(m: Mapping): number {
  const start = m.address;
  const end = m.address + BigInt(m.length);
  let rss = 0;
  for (const e of readSmaps()) if (e.start < end && e.end > start) rss += e.rss;
  return rss;
}

/** Number of VMAs (lines of /proc/self/maps) overlapping a mapping. */
export function vmaCount(m: Mapping): number {
  const start = m.address;
  const end = m.address + BigInt(m.length);
  return readMaps().filter((e) => e.start < end && e.end > start).length;
}
