/** `/proc/<pid>/smaps`: maps lines, each followed by its memory counters. */
import * as fs from 'node:fs';
import { parseMapsLine, type MapsEntry } from './maps';
import { linesOf, numberWithUnit, procPath, ProcParseError } from './parse';

/** The counters `smaps` gives per mapping and `smaps_rollup` sums. */
export interface SmapsCounters {
  /**
   * Every counter line by its key as in the file (`Rss`, `Pss`,
   * `AnonHugePages`, `THPeligible`, `ProtectionKey`, ...): `kB` values in
   * bytes, unit-less values as numbers. Unknown keys are kept.
   */
  fields: Record<string, number>;
  /** Resident bytes by page-table walk (excludes the shared zero page). */
  rss: number;
  /** Proportional set size, bytes. */
  pss: number;
  /** Anonymous bytes. */
  anonymous: number;
  /** Bytes mapped by transparent huge pages. */
  anonHugePages: number;
  /** Swapped-out bytes. */
  swap: number;
}

/** One `smaps` entry: the maps line plus every counter. */
export interface SmapsEntry extends MapsEntry, SmapsCounters {
  /** `THPeligible`: whether THP may back this mapping, `null` on kernels without the line. */
  thpEligible: boolean | null;
  /** `VmFlags` two-letter codes (`rd`, `wr`, `mr`, `nh` = MADV_NOHUGEPAGE, `hg` = MADV_HUGEPAGE, ...). */
  vmFlags: string[];
}

/** A counter line ("Key:   123 kB"). */
const FIELD = /^([A-Za-z_][A-Za-z0-9_]*):\s+(.*)$/;

/** @internal Parses counter lines into `fields`; returns the VmFlags or null when the line was not a counter line. */
export function addField(fields: Record<string, number>, line: string): string[] | 'ok' | null {
  const m = FIELD.exec(line);
  if (!m) return null;
  if (m[1] === 'VmFlags') return m[2]!.trim().split(/\s+/).filter((f) => f !== '');
  const v = numberWithUnit(m[2]!);
  if (v === null) return null;
  fields[m[1]!] = v;
  return 'ok';
}

/** @internal */
export function entryOf(head: MapsEntry, fields: Record<string, number>, vmFlags: string[]): SmapsEntry {
  const f = (k: string): number => fields[k] ?? 0;
  return {
    ...head, fields, rss: f('Rss'), pss: f('Pss'), anonymous: f('Anonymous'), anonHugePages: f('AnonHugePages'),
    swap: f('Swap'), thpEligible: fields.THPeligible === undefined ? null : fields.THPeligible !== 0, vmFlags,
  };
}

/**
 * Parses `smaps` text. A line that is neither a mapping header nor a
 * counter throws {@link ProcParseError}; a cut last line (truncated read)
 * is dropped and the entry keeps the counters before it.
 */
export function parseSmaps(text: string): SmapsEntry[] {
  const { lines } = linesOf('smaps', text);
  const out: SmapsEntry[] = [];
  let head: MapsEntry | null = null;
  let fields: Record<string, number> = {};
  let flags: string[] = [];
  const flush = (): void => {
    if (head) out.push(entryOf(head, fields, flags));
  };
  lines.forEach((line, i) => {
    const h = parseMapsLine(line);
    if (h) {
      flush();
      head = h;
      fields = {};
      flags = [];
      return;
    }
    if (!head) throw new ProcParseError('smaps', i + 1, 'a counter before the first mapping line');
    const r = addField(fields, line);
    if (r === null) throw new ProcParseError('smaps', i + 1, `not a mapping or counter line: ${JSON.stringify(line.slice(0, 80))}`);
    if (r !== 'ok') flags = r;
  });
  flush();
  return out;
}

/** Reads and parses `/proc/<pid>/smaps` (default `self`) once. */
export function readSmaps(pid: number | 'self' = 'self'): SmapsEntry[] {
  const text = fs.readFileSync(procPath(pid, 'smaps'), 'utf8');
  // A kernel thread or a zombie has no memory map: an empty file, no entries.
  return text === '' ? [] : parseSmaps(text);
}
