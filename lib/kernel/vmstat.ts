/** `/proc/vmstat`: "name value" counters (`pgfault`, `pgmajfault`, `thp_fault_alloc`, ...). */
import * as fs from 'node:fs';
import { linesOf, ProcParseError } from './parse';

/** `/proc/vmstat` by name as in the file. Counts (pages or events), not bytes. */
export type Vmstat = Record<string, number>;

/** Parses `vmstat` text; a malformed line throws {@link ProcParseError}, a cut last line is dropped. */
export function parseVmstat(text: string): Vmstat {
  const { lines } = linesOf('vmstat', text);
  const out: Vmstat = {};
  lines.forEach((line, i) => {
    const m = /^(\S+)\s+(-?\d+)$/.exec(line);
    if (!m) throw new ProcParseError('vmstat', i + 1, `not "name value": ${JSON.stringify(line.slice(0, 60))}`);
    out[m[1]!] = Number(m[2]);
  });
  return out;
}

/** Reads and parses `/proc/vmstat` once (system-wide counters). */
export function readVmstat(): Vmstat {
  return parseVmstat(fs.readFileSync('/proc/vmstat', 'utf8'));
}
