/**
 * `usage(pid | pids)`: pidusage's result, CPU by pidusage's formula over
 * `/proc/PID/stat` and `/proc/uptime`, memory from `/proc/PID/statm`
 * (exact on Linux 6.16+; pidusage multiplies stat's `rss`, an estimate, by
 * `getconf PAGESIZE`). Reads files only: nothing is spawned.
 */
import { pageSize } from '../kernel/system';
import { parseStat } from '../kernel/stat';
import { parseStatm } from '../kernel/statm';
import { clockTicks, readUptime } from '../kernel/uptime';
import { readProcessFile } from '../kernel/process';
import { safeInt } from '../kernel/parse';
import { checkBoolean, checkInteger, checkOptions } from '../validate';
import { invalidType } from '../errors';
import { statmIsExact } from './memory-usage';

/** pidusage's result for one process. */
export interface PidUsage {
  /** CPU percentage since the previous call for this pid (0 to 100 x CPUs); on a first call, over the process's life. */
  cpu: number;
  /** Resident bytes, from `statm`. */
  memory: number;
  ppid: number;
  pid: number;
  /** User + system CPU time, ms. */
  ctime: number;
  /** Milliseconds since the process started. */
  elapsed: number;
  /** When it was read, ms since the epoch. */
  timestamp: number;
  /** Where `memory` came from (pagewise's addition): `statm`, exact on Linux 6.16+ (`exact`). */
  source: 'statm';
  exact: boolean;
}

/** Options of {@link usage}, as pidusage names them. */
export interface UsageOptions {
  /** Milliseconds a pid's previous sample is kept for the next CPU figure (default 60000, pidusage's); 0 keeps none. */
  maxage?: number;
  /** Add the CPU time of waited-for children (`cutime + cstime`, their total, not a change: pidusage's formula). Default false. */
  childrens?: boolean;
}

/** One CPU sample as pidusage keeps it: stat's times in clock ticks and the uptime in seconds. */
export interface CpuSample {
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** stat's `starttime`, clock ticks after boot. */
  starttime: number;
  /** `/proc/uptime`'s first field, seconds. */
  uptime: number;
}

/**
 * pidusage's CPU percentage (lib/procfile.js, 3.x/4.x), operation for
 * operation so the same samples give the same float: times in ms
 * (`ticks * 1000 / clockTick`), `total` = change of stime + utime (+
 * children's total), `seconds` = change of uptime in ms, or without a
 * previous sample the process's age; `total / seconds * 100`, 0 when no
 * time passed.
 */
export function pidusageCpu(prev: CpuSample | null, cur: CpuSample, clockTick: number, childrens = false): number {
  const ms = (ticks: number): number => (ticks * 1000) / clockTick;
  const utime = ms(cur.utime);
  const stime = ms(cur.stime);
  const start = ms(cur.starttime);
  const uptime = cur.uptime * 1000;
  const children = childrens ? ms(cur.cutime) + ms(cur.cstime) : 0;
  const total = stime - (prev ? ms(prev.stime) : 0) + utime - (prev ? ms(prev.utime) : 0) + children;
  const seconds = Math.abs(prev ? uptime - prev.uptime * 1000 : start - uptime);
  return seconds > 0 ? (total / seconds) * 100 : 0;
}

/** Previous samples by pid, with the pid's start time (a reused pid starts afresh) and when they expire. */
const history = new Map<number, { sample: CpuSample; expires: number }>();

function checkPid(name: string, pid: unknown): number {
  return checkInteger(name, pid, 1, 2 ** 22);
}

function one(pid: number, o: { maxage: number; childrens: boolean }, uptime: number, tick: number, page: number, exact: boolean, now: number): PidUsage {
  const statText = readProcessFile(pid, 'stat');
  const statmText = readProcessFile(pid, 'statm');
  const timestamp = Date.now();
  const stat = parseStat(statText, page);
  const f = stat.fields; // fields[k] is man-page field k + 3
  const cur: CpuSample = {
    utime: stat.utime, stime: stat.stime, cutime: safeInt('stat', 1, 'cutime', f[16 - 3]), cstime: safeInt('stat', 1, 'cstime', f[17 - 3]), starttime: stat.starttime, uptime,
  };
  const kept = history.get(pid);
  const prev = o.maxage > 0 && kept && kept.expires > now && kept.sample.starttime === cur.starttime ? kept.sample : null;
  if (o.maxage > 0) history.set(pid, { sample: cur, expires: now + o.maxage });
  else history.delete(pid);
  const ms = (ticks: number): number => (ticks * 1000) / tick;
  return {
    cpu: pidusageCpu(prev, cur, tick, o.childrens),
    memory: parseStatm(statmText, page).resident,
    ppid: stat.ppid,
    pid,
    ctime: ms(cur.utime) + ms(cur.stime),
    elapsed: uptime * 1000 - ms(cur.starttime),
    timestamp,
    source: 'statm',
    exact,
  };
}

/**
 * CPU and memory of one process, or of several in one call, in pidusage's
 * shape (synchronous; `await` works on it as on pidusage's promise). For an
 * array, the result is keyed by pid and a pid whose process is gone is left
 * out (pidusage's `graceful`); for one pid, a process that is gone throws
 * `ESRCH` (`code`, `errno`, `syscall`, `path`). Other refusals (`EACCES`
 * under `hidepid`) throw in both forms. Arguments are checked before any read.
 */
export function usage(pid: number, options?: UsageOptions): PidUsage;
export function usage(pids: readonly number[], options?: UsageOptions): Record<number, PidUsage>;
export function usage(pids: number | readonly number[], options?: UsageOptions): PidUsage | Record<number, PidUsage> {
  let list: number[];
  if (typeof pids === 'number') list = [checkPid('pid', pids)];
  else if (Array.isArray(pids)) {
    list = [];
    for (let i = 0; i < pids.length; i++) list.push(checkPid(`pids[${i}]`, (pids as unknown[])[i])); // holes too: undefined is refused
  }
  else throw invalidType('pid', 'of type number or an array of numbers', pids);
  const o = { maxage: 60_000, childrens: false };
  if (options !== undefined) {
    const given = checkOptions<UsageOptions>('options', options, ['maxage', 'childrens']);
    if (given.maxage !== undefined) o.maxage = checkInteger('options.maxage', given.maxage, 0, 2 ** 31 - 1);
    if (given.childrens !== undefined) o.childrens = checkBoolean('options.childrens', given.childrens);
  }
  const now = Date.now();
  for (const [p, h] of history) if (h.expires <= now) history.delete(p);
  const uptime = readUptime().uptime;
  const tick = clockTicks();
  const page = pageSize();
  const exact = statmIsExact();
  if (typeof pids === 'number') return one(list[0]!, o, uptime, tick, page, exact, now);
  const out: Record<number, PidUsage> = {};
  for (const p of list) {
    try {
      out[p] = one(p, o, uptime, tick, page, exact, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  return out;
}

/** Forgets every kept CPU sample (the next call for each pid is a first call). */
usage.clear = (): void => {
  history.clear();
};
