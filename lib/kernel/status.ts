/** `/proc/<pid>/status`: "Key:\tvalue" lines. */
import * as fs from 'node:fs';
import { linesOf, numberWithUnit, procPath, ProcParseError } from './parse';

/** `/proc/<pid>/status`: memory fields in bytes, every line kept in `fields`. */
export interface Status {
  /** Name (escaped by the kernel; may contain spaces and parentheses). */
  name: string | null;
  state: string | null;
  pid: number | null;
  ppid: number | null;
  threads: number | null;
  /** VmPeak, VmSize, VmRSS, VmHWM, RssAnon, RssFile, RssShmem, VmSwap in bytes (`null` where absent). */
  vmPeak: number | null;
  vmSize: number | null;
  vmRss: number | null;
  vmHwm: number | null;
  rssAnon: number | null;
  rssFile: number | null;
  rssShmem: number | null;
  vmSwap: number | null;
  /**
   * Every line by its key as in the file: `kB` values as bytes, plain
   * decimal counts as numbers, everything else (masks, lists, names) as text.
   */
  fields: Record<string, number | string>;
  /** True when the last line was cut (no newline) and dropped. */
  truncated: boolean;
}

// Kept as text even when they look decimal: masks lose leading zeros otherwise.
const TEXT_KEYS = /^(Name|Umask|State|Sig|Shd|Cap|Cpus_allowed$|Mems_allowed$|untag_mask)/;

/** Parses `status` text. Throws {@link ProcParseError} on a line without `:` or empty input. */
export function parseStatus(text: string): Status {
  const { lines, truncated } = linesOf('status', text);
  const fields: Record<string, number | string> = {};
  lines.forEach((line, i) => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ProcParseError('status', i + 1, `no "Key:" in ${JSON.stringify(line.slice(0, 40))}`);
    const key = line.slice(0, colon);
    const raw = line.slice(colon + 1).replace(/^[\t ]+/, '');
    const num = TEXT_KEYS.test(key) ? null : numberWithUnit(raw);
    fields[key] = num ?? raw;
  });
  const num = (k: string): number | null => (typeof fields[k] === 'number' ? (fields[k] as number) : null);
  const str = (k: string): string | null => (fields[k] === undefined ? null : String(fields[k]));
  return {
    name: str('Name'), state: str('State'), pid: num('Pid'), ppid: num('PPid'), threads: num('Threads'),
    vmPeak: num('VmPeak'), vmSize: num('VmSize'), vmRss: num('VmRSS'), vmHwm: num('VmHWM'), rssAnon: num('RssAnon'),
    rssFile: num('RssFile'), rssShmem: num('RssShmem'), vmSwap: num('VmSwap'), fields, truncated,
  };
}

/** Reads and parses `/proc/<pid>/status` (default `self`) once. */
export function readStatus(pid: number | 'self' = 'self'): Status {
  return parseStatus(fs.readFileSync(procPath(pid, 'status'), 'utf8'));
}
