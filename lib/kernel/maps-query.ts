/**
 * The calling process's mappings by `ioctl(PROCMAP_QUERY)` (Linux 6.11+) on a
 * kept /proc/self/maps descriptor, falling back to the text where the kernel
 * lacks it.
 */
import * as fs from 'node:fs';
import { native } from '../native/binding';
import { kernelHas } from './features';
import { entryOf, findMapping, parseMaps, readMapsText, type MapsEntry, type ReadMapsOptions } from './maps';
import { procPath } from './parse';
import { checkBigAddress, checkBoolean, checkOptions } from '../validate';

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
 * several times what one line of text does (`pagewise bench --only maps`
 * measures both), so the ioctl wins only where it skips most of the
 * process's mappings.
 */
export function readMaps(pid: number | 'self' = 'self', options?: ReadMapsOptions): MapsEntry[] {
  const o = checkOptions<ReadMapsOptions>('options', options, ['start', 'end']);
  const ranged = o.start !== undefined || o.end !== undefined;
  if (!ranged || !(pid === 'self' || pid === process.pid) || !kernelHas('procmapQuery')) return readMapsText(pid, options);
  const start = o.start === undefined ? 0n : checkBigAddress('options.start', o.start);
  const end = o.end === undefined ? null : checkBigAddress('options.end', o.end);
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
