/**
 * Process-wide calls of the newest memory API: one VMA looked up with
 * `PROCMAP_QUERY`, many ranges advised with one `process_madvise`, and
 * `memfd_secret` memory. Each falls back or fails cleanly where the kernel
 * lacks it (./features).
 */
import * as fs from 'node:fs';
import { native } from './native';
import { type Mapping, asMapping, mmap } from './mapping';
import { adviceNumber, type Advice } from './flags';
import { kernelHas, requireFeature } from './features';
import { findMapping, queryVma, readMaps } from './proc/maps';
import { checkBigAddress, checkBoolean, checkInteger, checkOptions, checkRange, invalidType } from './validate';
import { pageSize, roundUp } from './system';

/** One mapping of the process, as the kernel describes it. */
export interface VmaInfo {
  start: bigint;
  end: bigint;
  /** `r`/`-`, `w`/`-`, `x`/`-`, `s`/`p`, as in /proc/self/maps. */
  perms: string;
  offset: bigint;
  inode: number;
  /** `major:minor` in hex, as in /proc/self/maps. */
  dev: string;
  /** The path (with ` (deleted)` when it was unlinked) or `[heap]`, `[stack]`, `[anon:NAME]`; `''` for unnamed anonymous memory. */
  name: string;
  /** Where the answer came from: one `PROCMAP_QUERY` ioctl (Linux 6.11+), or a parse of /proc/self/maps. */
  source: 'procmap_query' | 'maps';
}

/** Options of {@link queryMapping}. */
export interface QueryMappingOptions {
  /** Return the next mapping when none covers the address (default false: `null`). */
  next?: boolean;
}

/**
 * The mapping covering `address` (or, with `{ next: true }`, the first one
 * above it), by one `ioctl(PROCMAP_QUERY)` on a kept /proc/self/maps
 * descriptor where the kernel has it, else by parsing /proc/self/maps.
 * `null` when there is none.
 */
export function queryMapping(address: bigint, options?: QueryMappingOptions): VmaInfo | null {
  const addr = checkBigAddress('address', address);
  const o = checkOptions<QueryMappingOptions>('options', options, ['next']);
  const next = o.next === undefined ? false : checkBoolean('options.next', o.next);
  const byQuery = kernelHas('procmapQuery');
  const e = byQuery ? queryVma(addr, next) : next ? readMaps().find((x) => x.end > addr) : findMapping(readMaps(), addr);
  if (!e) return null;
  const name = `${e.pathname}${e.deleted ? ' (deleted)' : ''}`;
  return { start: e.start, end: e.end, perms: e.perms, offset: e.offset, inode: e.inode, dev: e.dev, name, source: byQuery ? 'procmap_query' : 'maps' };
}

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
  if (ranges.length > 0 && kernelHas('processMadvise') && (native.processMadviseProbe(n) === 0)) {
    const [advised, calls] = native.processMadviseOwn(regions, offs, lens, n);
    return { bytes: advised, path: 'process_madvise', calls };
  }
  for (let i = 0; i < maps.length; i++) maps[i]!.advise(advice, offs[i], lens[i]);
  return { bytes, path: 'madvise', calls: maps.length };
}

/**
 * Memory removed from the kernel's direct map (`memfd_secret`, Linux 5.14+
 * booted with `secretmem.enable=1`): no other process, and not the kernel
 * through its direct map, can read it; it is never swapped. Returns a
 * shared Mapping of `size` bytes (the descriptor is closed). Elsewhere throws
 * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` naming the boot parameter.
 */
export function secretMemory(size: number): Mapping {
  checkInteger('size', size, 1);
  requireFeature('secretMemory');
  const fd = native.memfdSecret(0x80000 /* O_CLOEXEC */);
  try {
    fs.ftruncateSync(fd, roundUp(size, pageSize()));
    return mmap(size, { shared: true, file: { fd } });
  } finally {
    fs.closeSync(fd);
  }
}
