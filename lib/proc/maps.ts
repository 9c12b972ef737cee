/** `/proc/<pid>/maps`: one line per mapping (VMA). */
import * as fs from 'node:fs';
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
  const start = BigInt(`0x${m[1]}`);
  const end = BigInt(`0x${m[2]}`);
  let pathname = m[7] ?? '';
  const deleted = pathname.endsWith(' (deleted)');
  if (deleted) pathname = pathname.slice(0, -' (deleted)'.length);
  const anon = /^\[anon:(.*)\]$/.exec(pathname);
  return {
    start, end, size: Number(end - start), perms: m[3]!, offset: BigInt(`0x${m[4]}`), dev: m[5]!,
    inode: Number(m[6]), pathname, anonName: anon ? anon[1]! : null, deleted,
  };
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

/** Reads and parses `/proc/<pid>/maps` (default `self`) once. */
export function readMaps(pid: number | 'self' = 'self'): MapsEntry[] {
  return parseMaps(fs.readFileSync(procPath(pid, 'maps'), 'utf8'));
}

/** The entry containing `address`, or `undefined`. */
export function findMapping<E extends MapsEntry>(entries: readonly E[], address: bigint): E | undefined {
  return entries.find((e) => e.start <= address && address < e.end);
}
