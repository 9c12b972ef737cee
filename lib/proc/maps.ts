/**
 * `/proc/<pid>/maps`: one line per mapping (VMA). For a range of the calling
 * process on Linux 6.11+ the same entries come from `ioctl(PROCMAP_QUERY)`,
 * one VMA per call, with no text to format and parse.
 */
import * as fs from 'node:fs';
import { kernelHas } from '../features';
import { native } from '../native';
import { checkBigAddress, checkOptions } from '../validate';
import { linesOf, procPath, ProcParseError } from './parse';

/** One line of `maps` (also the header line of each `smaps` entry). */
export interface MapsEntry {
  /** First address. */
  start: bigint;
  /** One past the last address. */
  end: bigint;
  /** `end - start` in bytes (a number: mappings are below 2^53 bytes). */
  size: number;
  /** Four characters: `r`/`-`, `w`/`-`, `x`/`-`, `p` (private) or `s` (shared). */
  perms: string;
  /** Offset into the file (or the page offset of anonymous memory). */
  offset: bigint;
  /** Device `major:minor` in hex, as in the file. */
  dev: string;
  /** Inode of the mapped file, 0 for anonymous memory. */
  inode: number;
  /** Path, pseudo-path (`[heap]`, `[stack]`, `[anon:NAME]`, `[vdso]`), or `''` for anonymous memory. */
  pathname: string;
  /** The NAME of `[anon:NAME]` (set with `PR_SET_VMA_ANON_NAME`), or `null`. */
  anonName: string | null;
  /** The file was deleted (`pathname` ends with ` (deleted)`; the suffix is removed from `pathname`). */
  deleted: boolean;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;

/** @internal Parses one maps line, or returns null when it is not one. */
export function parseMapsLine(line: string): MapsEntry | null {
  const m = HEADER.exec(line);
  if (!m) return null;
  return entryOf(BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`), m[3]!, BigInt(`0x${m[4]}`), m[5]!, Number(m[6]), m[7] ?? '');
}

/** A MapsEntry from the fields of a maps line (`name` as printed: ` (deleted)` and `[anon:NAME]` are read from it). */
function entryOf(start: bigint, end: bigint, perms: string, offset: bigint, dev: string, inode: number, name: string): MapsEntry {
  let pathname = name;
  const deleted = pathname.endsWith(' (deleted)');
  if (deleted) pathname = pathname.slice(0, -' (deleted)'.length);
  const anon = pathname.startsWith('[anon:') && pathname.endsWith(']') ? pathname.slice(6, -1) : null;
  return { start, end, size: Number(end - start), perms, offset, dev, inode, pathname, anonName: anon, deleted };
}

/**
 * Parses `maps` text. A malformed line throws {@link ProcParseError} naming
 * the line; a cut last line (a truncated read) is dropped.
 */
export function parseMaps(text: string): MapsEntry[] {
  const { lines } = linesOf('maps', text);
  return lines.map((line, i) => {
    const e = parseMapsLine(line);
    if (!e) throw new ProcParseError('maps', i + 1, `not a mapping line: ${JSON.stringify(line.slice(0, 80))}`);
    return e;
  });
}

/** Options of {@link readMaps}: only the mappings overlapping `[start, end)`. */
export interface ReadMapsOptions {
  /** Default 0. */
  start?: bigint;
  /** Default: the end of the address space. */
  end?: bigint;
}

/**
 * The mappings of `/proc/<pid>/maps` (default `self`), read once; with
 * `{ start, end }` only those overlapping `[start, end)`.
 *
 * For a range of the calling process where the kernel has `PROCMAP_QUERY`
 * (Linux 6.11+; `kernelHas('procmapQuery')`), one ioctl per mapping in the
 * range, from `start`, instead of reading every line: the same entries,
 * field for field (tested). A whole listing reads the text: one query costs
 * about 6 µs of kernel time on the development VM against under 1 µs per
 * line of text (`pagewise bench --only maps`), so the ioctl wins only where
 * it skips most of the process's mappings.
 */
export function readMaps(pid: number | 'self' = 'self', options?: ReadMapsOptions): MapsEntry[] {
  const o = checkOptions<ReadMapsOptions>('options', options, ['start', 'end']);
  const start = o.start === undefined ? 0n : checkBigAddress('options.start', o.start);
  const end = o.end === undefined ? null : checkBigAddress('options.end', o.end);
  const ranged = o.start !== undefined || o.end !== undefined;
  if (ranged && (pid === 'self' || pid === process.pid) && kernelHas('procmapQuery')) {
    const out: MapsEntry[] = [];
    let e = queryVma(start, true);
    for (; e !== null && (end === null || e.start < end); e = queryVma(e.end, true)) out.push(e);
    // Past the last VMA: the gate area may lie in the range.
    if (e === null) for (const g of gate()) if (g.end > start && (end === null || g.start < end)) out.push({ ...g });
    return out;
  }
  const all = parseMaps(fs.readFileSync(procPath(pid, 'maps'), 'utf8'));
  return ranged ? all.filter((e) => e.end > start && (end === null || e.start < end)) : all;
}

let mapsFd = -1;
let nameBuf = new Uint8Array(4096);
let gateArea: MapsEntry[] | undefined;

/**
 * @internal The calling process's VMA covering `address` (or with `next`,
 * the first above it) by one `ioctl(PROCMAP_QUERY)` (Linux 6.11+: check
 * `kernelHas('procmapQuery')` first), or null. Names as maps prints them
 * (a newline in a path as `\012`).
 */
export function queryVma(address: bigint, next: boolean): MapsEntry | null {
  if (mapsFd < 0) mapsFd = fs.openSync('/proc/self/maps', 'r');
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
  gateArea ??= parseMaps(fs.readFileSync('/proc/self/maps', 'utf8')).filter((g) => queryVma(g.start, false) === null);
  return gateArea;
}

/** The entry containing `address`, or `undefined`. */
export function findMapping<E extends MapsEntry>(entries: readonly E[], address: bigint): E | undefined {
  return entries.find((e) => e.start <= address && address < e.end);
}
