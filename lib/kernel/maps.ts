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

const DELETED = ' (deleted)';

/** @internal Whether a name as printed says the file was deleted. */
export function nameDeleted(name: string): boolean {
  return name.endsWith(DELETED);
}

/** @internal The pathname of a name as printed (without ` (deleted)`). */
export function pathnameOf(name: string): string {
  return name.endsWith(DELETED) ? name.slice(0, -DELETED.length) : name;
}

/** @internal The NAME of a pathname `[anon:NAME]`, or null. */
export function anonNameOf(pathname: string): string | null {
  return pathname.startsWith('[anon:') && pathname.endsWith(']') ? pathname.slice(6, -1) : null;
}

/** @internal A MapsEntry from the fields of a maps line (`name` as printed: ` (deleted)` and `[anon:NAME]` are read from it). */
export function entryOf(start: bigint, end: bigint, perms: string, offset: bigint, dev: string, inode: number, name: string): MapsEntry {
  const pathname = pathnameOf(name);
  return { start, end, size: Number(end - start), perms, offset, dev, inode, pathname, anonName: anonNameOf(pathname), deleted: nameDeleted(name) };
}

// --- The same parse over bytes --------------------------------------------
// readMaps() and explain() get the file as bytes: decoding all of it into one
// string, splitting it into a string per line and running HEADER over each
// cost more than the kernel's formatting of the text. mapsLineAt() reads the
// fields of a line straight from the bytes, and answers only where it is sure
// to give what parseMapsLine() gives: any line it is not sure of (a name with
// a byte >= 0x80 or a CR, a field it does not expect, a number too long to
// be exact as a double) is decoded and handed to parseMapsLine().

const PERMS = new Map<number, string>();
for (const r of 'r-') for (const w of 'w-') for (const x of 'x-') for (const p of 'ps') {
  const t = `${r}${w}${x}${p}`;
  PERMS.set(t.charCodeAt(0) | (t.charCodeAt(1) << 8) | (t.charCodeAt(2) << 16) | (t.charCodeAt(3) * 2 ** 24), t);
}
/** @internal The permission strings by their bits (r 8, w 4, x 2, s 1), as the native smaps scan gives them. */
export const PERMS_BY_BITS: readonly string[] = Array.from({ length: 16 }, (_, n) =>
  `${n & 8 ? 'r' : '-'}${n & 4 ? 'w' : '-'}${n & 2 ? 'x' : '-'}${n & 1 ? 's' : 'p'}`);
/** Device strings seen, by their bytes packed in a number (at most 6 bytes: "fd:01", "103:02"). */
const DEVS = new Map<number, string>();

/** @internal The device string of the bytes packed as `key` (their count, then each byte) at [from, from + count) of `b`. */
export function devAt(b: Buffer, key: number, from: number, to: number): string {
  let dev = DEVS.get(key);
  if (dev === undefined) DEVS.set(key, (dev = b.toString('latin1', from, to)));
  return dev;
}
const BIG = new Map<number, bigint>();

function hexDigit(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
}

/** @internal A bigint of at most 13 hex digits (exact as a double), cached for the common small values. */
export function bigOf(n: number): bigint {
  if (n < 65536) {
    let b = BIG.get(n);
    if (b === undefined) BIG.set(n, (b = BigInt(n)));
    return b;
  }
  return BigInt(n);
}

// Scratch for the fields of one line: [start, end, offset] as numbers, and their digit counts.
let hexAt = 0;
let hexValue = 0;

/** Reads lowercase hex from `at` into hexValue (up to 13 digits exact) and moves hexAt past it; false when there is none. */
function readHex(b: Uint8Array, at: number, end: number): boolean {
  let i = at;
  let v = 0;
  while (i < end) {
    const d = hexDigit(b[i]!);
    if (d < 0) break;
    v = v * 16 + d;
    i++;
  }
  if (i === at) return false;
  hexAt = i;
  hexValue = i - at <= 13 ? v : -1; // -1: too long to be exact, parsed from text instead
  return true;
}

function hexBig(b: Buffer, from: number, to: number, value: number): bigint {
  return value >= 0 ? bigOf(value) : BigInt(`0x${b.toString('latin1', from, to)}`);
}

/** The entry of the maps line in `[pos, end)` of `b` read from the bytes, or undefined where only the text parser can say. */
function fastMapsLine(b: Buffer, pos: number, end: number): MapsEntry | undefined {
  if (!readHex(b, pos, end)) return undefined;
  const startTo = hexAt;
  const start = hexValue;
  if (b[startTo] !== 45 || !readHex(b, startTo + 1, end)) return undefined; // '-'
  const endFrom = startTo + 1;
  const endTo = hexAt;
  const stop = hexValue;
  let i = endTo;
  if (b[i] !== 32 || i + 5 >= end || b[i + 5] !== 32) return undefined;
  const perms = PERMS.get(b[i + 1]! | (b[i + 2]! << 8) | (b[i + 3]! << 16) | (b[i + 4]! * 2 ** 24));
  if (perms === undefined) return undefined;
  i += 6;
  if (!readHex(b, i, end)) return undefined;
  const offFrom = i;
  const offTo = hexAt;
  const off = hexValue;
  if (b[offTo] !== 32) return undefined;
  const devFrom = offTo + 1;
  if (!readHex(b, devFrom, end) || b[hexAt] !== 58 || !readHex(b, hexAt + 1, end)) return undefined; // ':'
  const devTo = hexAt;
  if (b[devTo] !== 32 || devTo - devFrom > 6) return undefined;
  let key = devTo - devFrom;
  for (let k = devFrom; k < devTo; k++) key = key * 256 + b[k]!;
  const dev = devAt(b, key, devFrom, devTo);
  i = devTo + 1;
  const inodeFrom = i;
  let inode = 0;
  while (i < end && b[i]! >= 48 && b[i]! <= 57) inode = inode * 10 + (b[i++]! - 48);
  if (i === inodeFrom || i - inodeFrom > 15) return undefined;
  let name = '';
  if (i < end) {
    if (b[i] !== 32) return undefined;
    while (i < end && b[i] === 32) i++;
    for (let k = i; k < end; k++) if (b[k]! >= 0x80 || b[k] === 13) return undefined;
    if (i < end) name = b.toString('latin1', i, end);
  }
  return entryOf(hexBig(b, pos, startTo, start), hexBig(b, endFrom, endTo, stop), perms, hexBig(b, offFrom, offTo, off), dev, inode, name);
}

/**
 * @internal {@link parseMapsLine} of the line in `[pos, end)` of `b` decoded
 * as `encoding`: the same entry (or null), read from the bytes where it can be.
 */
export function mapsLineAt(b: Buffer, pos: number, end: number, encoding: 'latin1' | 'utf8'): MapsEntry | null {
  return fastMapsLine(b, pos, end) ?? parseMapsLine(b.toString(encoding, pos, end));
}

/**
 * {@link parseMaps} of `b` (the file's bytes) decoded as UTF-8: the same
 * entries and the same errors, without decoding the whole text.
 */
export function parseMapsBuffer(b: Buffer): MapsEntry[] {
  const n = b.length;
  let i = 0;
  while (i < n && (b[i] === 32 || b[i] === 10 || b[i] === 9 || b[i] === 13 || b[i] === 11 || b[i] === 12)) i++;
  // Blank, or starting with a byte >= 0x80 (which may be Unicode white space): the text parser's verdict.
  if (i === n || b[i]! >= 0x80) return parseMaps(b.toString('utf8'));
  const out: MapsEntry[] = [];
  let pos = 0;
  let line = 0;
  while (pos < n) {
    let end = b.indexOf(10, pos);
    if (end < 0) {
      if (line > 0) break; // a cut last line (a truncated read): dropped, as parseMaps drops it
      end = n;
    }
    line++;
    const e = mapsLineAt(b, pos, end, 'utf8');
    if (!e) throw new ProcParseError('maps', line, `not a mapping line: ${JSON.stringify(b.toString('utf8', pos, end).slice(0, 80))}`);
    out.push(e);
    pos = end + 1;
  }
  return out;
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
 * several times what one line of text does (`pagewise bench --only maps`
 * measures both), so the ioctl wins only where it skips most of the
 * process's mappings.
 */
export function readMapsText(pid: number | 'self' = 'self', options?: ReadMapsOptions): MapsEntry[] {
  const o = checkOptions<ReadMapsOptions>('options', options, ['start', 'end']);
  const start = o.start === undefined ? 0n : checkBigAddress('options.start', o.start);
  const end = o.end === undefined ? null : checkBigAddress('options.end', o.end);
  const ranged = o.start !== undefined || o.end !== undefined;
  const bytes = fs.readFileSync(procPath(pid, 'maps'));
  // A kernel thread or a zombie has no memory map: an empty file, no entries.
  const all = bytes.length === 0 ? [] : parseMapsBuffer(bytes);
  return ranged ? all.filter((e) => e.end > start && (end === null || e.start < end)) : all;
}

/** The entry containing `address`, or `undefined`. */
export function findMapping<E extends MapsEntry>(entries: readonly E[], address: bigint): E | undefined {
  return entries.find((e) => e.start <= address && address < e.end);
}

/** The text reader under its old name, for the modules below the core layer (arena, experiments). */
export const readMaps = readMapsText;
