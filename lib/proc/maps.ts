/**
 * `/proc/<pid>/maps`: one line per mapping (VMA). For a range of the calling
 * process on Linux 6.11+ the same entries come from `ioctl(PROCMAP_QUERY)`,
 * one VMA per call, with no text to format and parse.
 */
import * as fs from 'node:fs';
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

/** @internal A MapsEntry from the fields of a maps line (`name` as printed: ` (deleted)` and `[anon:NAME]` are read from it). */
export function entryOf(start: bigint, end: bigint, perms: string, offset: bigint, dev: string, inode: number, name: string): MapsEntry {
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
export function readMapsText(pid: number | 'self' = 'self', options?: ReadMapsOptions): MapsEntry[] {
  const o = checkOptions<ReadMapsOptions>('options', options, ['start', 'end']);
  const start = o.start === undefined ? 0n : checkBigAddress('options.start', o.start);
  const end = o.end === undefined ? null : checkBigAddress('options.end', o.end);
  const ranged = o.start !== undefined || o.end !== undefined;
  const text = fs.readFileSync(procPath(pid, 'maps'), 'utf8');
  // A kernel thread or a zombie has no memory map: an empty file, no entries.
  const all = text === '' ? [] : parseMaps(text);
  return ranged ? all.filter((e) => e.end > start && (end === null || e.start < end)) : all;
}

/** The entry containing `address`, or `undefined`. */
export function findMapping<E extends MapsEntry>(entries: readonly E[], address: bigint): E | undefined {
  return entries.find((e) => e.start <= address && address < e.end);
}

/** The text reader under its old name, for the modules below the core layer (arena, experiments). */
export const readMaps = readMapsText;
