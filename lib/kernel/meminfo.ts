/** `/proc/meminfo`: system memory, "Key:   value kB" lines. */
import * as fs from 'node:fs';
import { linesOf, numberWithUnit, ProcParseError } from './parse';

/**
 * `/proc/meminfo` by key as in the file (`MemTotal`, `Committed_AS`,
 * `CommitLimit`, `HugePages_Total`...): `kB` values in bytes, counts as numbers.
 */
export type Meminfo = Record<string, number>;

/** Parses `meminfo` text; a malformed line throws {@link ProcParseError}, a cut last line is dropped. */
export function parseMeminfo(text: string): Meminfo {
  const { lines } = linesOf('meminfo', text);
  const out: Meminfo = {};
  lines.forEach((line, i) => {
    const m = /^([^:\s]+):\s*(.*)$/.exec(line);
    const v = m ? numberWithUnit(m[2]!) : null;
    if (!m || v === null) throw new ProcParseError('meminfo', i + 1, `not "Key: value [kB]": ${JSON.stringify(line.slice(0, 60))}`);
    out[m[1]!] = v;
  });
  return out;
}

/** Reads and parses `/proc/meminfo` once. */
export function readMeminfo(): Meminfo {
  return parseMeminfo(fs.readFileSync('/proc/meminfo', 'utf8'));
}
