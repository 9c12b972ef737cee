/** `/proc/<pid>/stat` (and `/proc/<pid>/task/<tid>/stat`). */
import * as fs from 'node:fs';
import { pageSize } from './facts';
import { checkInteger } from '../validate';
import { linesOf, procPath, ProcParseError, safeInt } from './parse';

/** The parts of `/proc/<pid>/stat` that matter for memory, named as in proc_pid_stat(5). */
export interface Stat {
  pid: number;
  /** The command name, without the parentheses (it may itself contain `) (` and spaces). */
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  flags: number;
  /** Minor faults of this process (or task). */
  minflt: number;
  /** Minor faults of waited-for children. */
  cminflt: number;
  /** Major faults. */
  majflt: number;
  cmajflt: number;
  /** User and system time, clock ticks. */
  utime: number;
  stime: number;
  priority: number;
  nice: number;
  numThreads: number;
  /** Start time after boot, clock ticks. */
  starttime: number;
  /** Virtual memory size, bytes. */
  vsize: number;
  /** Resident set, bytes (what `process.memoryUsage().rss` reads; approximate). */
  rss: number;
  /** Resident set, pages as in the file. */
  rssPages: number;
  /** RLIMIT_RSS soft limit, bytes (bigint: unlimited is 2^64-1). */
  rsslim: bigint;
  /** CPU last run on, or `null` in a truncated line. */
  processor: number | null;
  /**
   * Every field after `comm` as text, in order, starting with `state`
   * (field 3 of the man page is `fields[0]`). Unknown trailing fields are kept.
   */
  fields: string[];
}

/**
 * Parses `stat` text. The command name is taken up to the LAST `)`, since
 * a process may call itself `a) (b c`. Needs the fields up to `rsslim`
 * (field 25); later ones are optional. Throws {@link ProcParseError} otherwise.
 */
export function parseStat(text: string, page: number = pageSize()): Stat {
  checkInteger('page', page, 1);
  const { lines } = linesOf('stat', text, false);
  const line = lines.join('\n');
  const open = line.indexOf(' (');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new ProcParseError('stat', 1, 'no "pid (comm)" at the start');
  const pid = safeInt('stat', 1, 'pid', line.slice(0, open).trim());
  const comm = line.slice(open + 2, close);
  const fields = line.slice(close + 1).trim().split(/\s+/);
  if (fields.length < 23) throw new ProcParseError('stat', 1, `expected at least 25 fields, found ${fields.length + 2} (truncated?)`);
  // fields[k] is man-page field k + 3.
  const n = (field: number, name: string): number => safeInt('stat', 1, name, fields[field - 3]);
  const rsslimText = fields[25 - 3]!;
  if (!/^\d+$/.test(rsslimText)) throw new ProcParseError('stat', 1, `rsslim is not an integer (${JSON.stringify(rsslimText)})`);
  const rssPages = n(24, 'rss');
  const procText = fields[39 - 3];
  return {
    pid, comm, state: fields[0]!, ppid: n(4, 'ppid'), pgrp: n(5, 'pgrp'), session: n(6, 'session'), flags: n(9, 'flags'),
    minflt: n(10, 'minflt'), cminflt: n(11, 'cminflt'), majflt: n(12, 'majflt'), cmajflt: n(13, 'cmajflt'),
    utime: n(14, 'utime'), stime: n(15, 'stime'), priority: n(18, 'priority'), nice: n(19, 'nice'),
    numThreads: n(20, 'num_threads'), starttime: n(22, 'starttime'), vsize: n(23, 'vsize'),
    rss: rssPages * page, rssPages, rsslim: BigInt(rsslimText),
    processor: procText !== undefined && /^\d+$/.test(procText) ? Number(procText) : null,
    fields,
  };
}

/**
 * Reads and parses `/proc/<pid>/stat` (default `self`) once; with `tid`,
 * `/proc/<pid>/task/<tid>/stat` (one thread's faults).
 */
export function readStat(pid: number | 'self' = 'self', tid?: number): Stat {
  const name = tid === undefined ? 'stat' : `task/${checkInteger('tid', tid, 1)}/stat`;
  return parseStat(fs.readFileSync(procPath(pid, name), 'utf8'));
}
