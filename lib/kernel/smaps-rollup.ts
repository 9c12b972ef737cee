/** `/proc/<pid>/smaps_rollup`: the sum of `smaps` over every mapping (Linux 4.14+). */
import * as fs from 'node:fs';
import { parseMapsLine } from './maps';
import { linesOf, procPath, ProcParseError } from './parse';
import { addField, type SmapsCounters } from './smaps';

/** `smaps_rollup`: one header (the whole address range) and the summed counters. */
export interface SmapsRollup extends SmapsCounters {
  /** Lowest mapped address. */
  start: bigint;
  /** One past the highest mapped address. */
  end: bigint;
  /** True when the last line was cut (no newline) and dropped. */
  truncated: boolean;
}

/** Parses `smaps_rollup` text. Throws {@link ProcParseError} without the `[rollup]` header or on a bad line. */
export function parseSmapsRollup(text: string): SmapsRollup {
  const { lines, truncated } = linesOf('smaps_rollup', text);
  const head = parseMapsLine(lines[0] ?? '');
  if (!head) throw new ProcParseError('smaps_rollup', 1, 'no "[rollup]" header line');
  const fields: Record<string, number> = {};
  for (let i = 1; i < lines.length; i++) {
    const r = addField(fields, lines[i]!);
    if (r === null) throw new ProcParseError('smaps_rollup', i + 1, `not a counter line: ${JSON.stringify(lines[i]!.slice(0, 80))}`);
  }
  const f = (k: string): number => fields[k] ?? 0;
  return {
    start: head.start, end: head.end, fields, rss: f('Rss'), pss: f('Pss'), anonymous: f('Anonymous'),
    anonHugePages: f('AnonHugePages'), swap: f('Swap'), truncated,
  };
}

/** Reads and parses `/proc/<pid>/smaps_rollup` (default `self`) once. */
export function readSmapsRollup(pid: number | 'self' = 'self'): SmapsRollup {
  return parseSmapsRollup(fs.readFileSync(procPath(pid, 'smaps_rollup'), 'utf8'));
}
