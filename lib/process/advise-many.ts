/** `madvise` over many ranges with one `process_madvise` where the kernel allows it. */
import { native } from '../native/binding';
import { type Mapping, asMapping } from '../mapping';
import { adviceNumber, type Advice } from '../mapping/flags';
import { kernelHas } from '../kernel/features';
import { checkRange } from '../validate';
import { invalidState, invalidType } from '../errors';
import { roundUp } from '../kernel/system';

/** What {@link adviseMany} did. */
export interface AdviseManyResult {
  /** Bytes advised. */
  bytes: number;
  /** `process_madvise`: batched on the own process; `madvise`: one call per range. */
  path: 'process_madvise' | 'madvise';
  /** System calls made. */
  calls: number;
}

/**
 * `madvise(advice)` over many ranges `[mapping, offset, length]` (offsets
 * page-aligned) with one `process_madvise` per up to `IOV_MAX` ranges on the
 * own process where the kernel allows that advice there (every advice since
 * Linux 6.13; `cold`, `pageout`, `willneed`, `collapse` since 5.10), else one
 * `madvise` per range. On memory written from JS, batching saves the TLB
 * shootdown each call costs.
 */
export function adviseMany(ranges: ReadonlyArray<readonly [Mapping, number?, number?]>, advice: Advice): AdviseManyResult {
  const n = adviceNumber(advice);
  if (!Array.isArray(ranges)) throw invalidType('ranges', 'an array of [mapping, offset, length]', ranges);
  const regions: unknown[] = [];
  const offs: number[] = [];
  const lens: number[] = [];
  const maps: Mapping[] = [];
  let bytes = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (!Array.isArray(r)) throw invalidType(`ranges[${i}]`, 'an array [mapping, offset, length]', r);
    const m = asMapping(r[0]);
    const [off, len] = checkRange(m.length, m.pageSize, r[1], r[2]);
    regions.push(m.region);
    offs.push(off);
    lens.push(roundUp(len, m.pageSize));
    maps.push(m);
    bytes += roundUp(len, m.pageSize);
  }
  // Reading the ranges ran caller code (getters, valueOf): a mapping it
  // unmapped is refused here, before any system call.
  for (let i = 0; i < maps.length; i++) {
    if (!maps[i]!.mapped) throw invalidState(`ranges[${i}]: the mapping was unmapped while the ranges were read`);
  }
  if (ranges.length > 0 && kernelHas('processMadvise') && (native.processMadviseProbe(n) === 0)) {
    const [advised, calls] = native.processMadviseOwn(regions, offs, lens, n);
    return { bytes: advised, path: 'process_madvise', calls };
  }
  for (let i = 0; i < maps.length; i++) maps[i]!.advise(advice, offs[i], lens[i]);
  return { bytes, path: 'madvise', calls: maps.length };
}
