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
import { entryOf, findMapping, parseMaps, readMapsText, type MapsEntry, type ReadMapsOptions } from './proc/maps';
import { procPath } from './proc/parse';
import { checkBigAddress as checkAddr, checkOptions as checkOpts } from './validate';
import { checkBigAddress, checkBoolean, checkInteger, checkOptions, checkRange, invalidState, invalidType } from './validate';
import { pageSize, roundUp } from './system';

let mapsFd = -1;
/** PATH_MAX (linux/limits.h): the longest name PROCMAP_QUERY returns; a byte count, not a page size. */
const PATH_MAX = 4096;
let nameBuf = new Uint8Array(PATH_MAX);
let gateArea: MapsEntry[] | undefined;

/**
 * @internal The calling process's VMA covering `address` (or with `next`,
 * the first above it) by one `ioctl(PROCMAP_QUERY)` (Linux 6.11+: check
 * `kernelHas('procmapQuery')` first), or null. Names as maps prints them
 * (a newline in a path as `\012`).
 */
export function queryVma(address: bigint, next: boolean): MapsEntry | null {
  if (mapsFd < 0) mapsFd = fs.openSync(procPath('self', 'maps'), 'r');
  let r;
  for (;;) {
    try {
      r = native.procmapQuery(mapsFd, address, next, nameBuf);
      break;
    } catch (err) {
      // A name longer than the buffer (a deep path and " (deleted)"): grow it.
      if ((err as NodeJS.ErrnoException).code !== 'ENAMETOOLONG' || nameBuf.length >= 1 << 20) throw err;
      nameBuf = new Uint8Array(nameBuf.length * 4);
    }
  }
  if (r === null) return null;
  const [start, end, flags, , offset, inode, major, minor, nameLen] = r;
  const perms = `${flags & 1 ? 'r' : '-'}${flags & 2 ? 'w' : '-'}${flags & 4 ? 'x' : '-'}${flags & 8 ? 's' : 'p'}`;
  let name = nameLen > 0 ? Buffer.from(nameBuf.buffer, nameBuf.byteOffset, nameLen - 1).toString('utf8') : '';
  if (name.startsWith('/') && name.includes('\n')) name = name.replace(/\n/g, '\\012');
  const dev = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
  return entryOf(start, end, perms, offset, dev, inode, name);
}

/** @internal Every VMA of the calling process by PROCMAP_QUERY (the benchmark and tests compare it with the text). */
export function readMapsByQuery(): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (let e = queryVma(0n, true); e !== null; e = queryVma(e.end, true)) out.push(e);
  for (const g of gate()) out.push({ ...g });
  return out;
}

/** The kernel's gate area (`[vsyscall]` on x86-64): no VMA of the process (no query finds it), and it never changes: taken once from the text. */
function gate(): MapsEntry[] {
  gateArea ??= parseMaps(fs.readFileSync(procPath('self', 'maps'), 'utf8')).filter((g) => queryVma(g.start, false) === null);
  return gateArea;
}

/**
 * The mappings of `/proc/<pid>/maps` (default `self`), read once; with
 * `{ start, end }` only those overlapping `[start, end)`.
 *
 * For a range of the calling process where the kernel has `PROCMAP_QUERY`
 * (Linux 6.11+; `kernelHas('procmapQuery')`), one ioctl per mapping in the
 * range, from `start`, instead of reading every line: the same entries,
 * field for field (tested). A whole listing reads the text: one query costs
 * about 5 µs of kernel time on the development VM against under 1 µs per
 * line of text (`pagewise bench --only maps`), so the ioctl wins only where
 * it skips most of the process's mappings.
 */
export function readMaps(pid: number | 'self' = 'self', options?: ReadMapsOptions): MapsEntry[] {
  const o = checkOpts<ReadMapsOptions>('options', options, ['start', 'end']);
  const ranged = o.start !== undefined || o.end !== undefined;
  if (!ranged || !(pid === 'self' || pid === process.pid) || !kernelHas('procmapQuery')) return readMapsText(pid, options);
  const start = o.start === undefined ? 0n : checkAddr('options.start', o.start);
  const end = o.end === undefined ? null : checkAddr('options.end', o.end);
  const out: MapsEntry[] = [];
  let e = queryVma(start, true);
  for (; e !== null && (end === null || e.start < end); e = queryVma(e.end, true)) {
    // Another thread may map or unmap between two queries: a mapping that
    // grew or merged over one listed before replaces it (the list never
    // overlaps; each entry is what the kernel said when it was read).
    while (out.length > 0 && out[out.length - 1]!.end > e.start) out.pop();
    out.push(e);
  }
  // Past the last VMA: the gate area may lie in the range.
  if (e === null) for (const g of gate()) if (g.end > start && (end === null || g.start < end)) out.push({ ...g });
  return out;
}

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
  let e = byQuery ? queryVma(addr, next) : next ? readMapsText().find((x) => x.end > addr) : findMapping(readMapsText(), addr);
  // The gate area ([vsyscall]) is listed in the maps text but is no VMA a query finds.
  let fromText = !byQuery;
  if (!e && byQuery) {
    const gates = gate();
    e = next ? gates.find((g) => g.end > addr) : findMapping(gates, addr);
    fromText = true;
  }
  if (!e) return null;
  const name = `${e.pathname}${e.deleted ? ' (deleted)' : ''}`;
  return { start: e.start, end: e.end, perms: e.perms, offset: e.offset, inode: e.inode, dev: e.dev, name, source: fromText ? 'maps' : 'procmap_query' };
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

/**
 * Opts the whole process in to Kernel Samepage Merging, or out
 * (`prctl(PR_SET_MEMORY_MERGE, on)`, Linux 6.4 with `CONFIG_KSM`): every
 * mapping it has and will have becomes a KSM candidate, without
 * `madvise(MADV_MERGEABLE)` per range. Merging happens only while ksmd runs
 * (`/sys/kernel/mm/ksm/run` = 1); `ksmStat().mergeAny` shows the state.
 * Returns the state read back (`PR_GET_MEMORY_MERGE`). Where the kernel
 * lacks it throws `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`; a refusal (`EPERM`
 * under a seccomp or LSM policy, `EINVAL`) is thrown with `code`, `errno`
 * and `syscall: 'prctl'`.
 */
export function memoryMerge(on: boolean): boolean {
  checkBoolean('on', on);
  requireFeature('memoryMerge');
  native.prctlSetMemoryMerge(on ? 1 : 0);
  return native.prctlGetMemoryMerge() === 1;
}

/** Whether the process is opted in to KSM as a whole (`PR_GET_MEMORY_MERGE`, Linux 6.4); throws like {@link memoryMerge}. */
export function memoryMergeEnabled(): boolean {
  requireFeature('memoryMerge');
  return native.prctlGetMemoryMerge() === 1;
}
