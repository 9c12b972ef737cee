/**
 * usage(pid | pids): pidusage's shape and CPU formula over a real child
 * process, stopped (SIGSTOP) while it is measured so its CPU times and
 * memory stand still; compared with the files read beside it and with the
 * real pidusage package on the same stopped process. Dead pids: ESRCH.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import { usage, pidusageCpu, clockTicks, readStat, readStatm, readUptime, statmIsExact, type CpuSample } from '../lib/index';

const pidusage = createRequire(__filename)('pidusage') as (pid: number) => Promise<Record<string, number>>;
const PIDUSAGE_KEYS = ['cpu', 'memory', 'ppid', 'pid', 'ctime', 'elapsed', 'timestamp'];

const between = (x: number, a: number, b: number): void => {
  expect(x).toBeGreaterThanOrEqual(Math.min(a, b));
  expect(x).toBeLessThanOrEqual(Math.max(a, b));
};

/** The state letter of every thread is T or t: nothing of the process runs. */
async function stopped(pid: number): Promise<void> {
  for (;;) {
    const all = fs.readdirSync(`/proc/${pid}/task`).every((t) => {
      const s = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'latin1');
      return /[tT]/.test(s[s.lastIndexOf(')') + 2]!);
    });
    if (all) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

function sampleOf(pid: number, uptime: number): CpuSample {
  const s = readStat(pid);
  return { utime: s.utime, stime: s.stime, cutime: Number(s.fields[13]), cstime: Number(s.fields[14]), starttime: s.starttime, uptime };
}

/** A child that burns CPU until it has used at least 10 ticks, then sleeps. */
let busy: ChildProcess;

beforeAll(async () => {
  busy = spawn(process.execPath, ['-e', 'const t = process.cpuUsage(); while (process.cpuUsage(t).user < 200_000); setInterval(() => {}, 1e6);'], { stdio: 'ignore' });
  const pid = busy.pid!;
  // Wait (no time limit: a loaded machine is slow) until the kernel has charged it 10 ticks, then stop it.
  for (;;) {
    const s = readStat(pid);
    if (s.utime + s.stime >= 10) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(pid, 'SIGSTOP');
  await stopped(pid);
});

afterAll(() => {
  busy.kill('SIGKILL');
});

describe('usage() on a stopped child', () => {
  it('memory is statm\'s (read beside it), ctime and elapsed follow stat and /proc/uptime, pid and ppid exact', () => {
    const pid = busy.pid!;
    usage.clear();
    const page = readStatm(pid).pageSize;
    const m0 = readStatm(pid).resident;
    const up0 = readUptime().uptime;
    const t0 = Date.now();
    const u = usage(pid);
    const t1 = Date.now();
    const up1 = readUptime().uptime;
    const m1 = readStatm(pid).resident;
    expect(Object.keys(u).sort()).toEqual([...PIDUSAGE_KEYS, 'source', 'exact'].sort());
    between(u.memory, m0, m1);
    expect(u.memory % page).toBe(0);
    expect(u.source).toBe('statm');
    expect(u.exact).toBe(statmIsExact(os.release()));
    expect(u.pid).toBe(pid);
    expect(u.ppid).toBe(process.pid);
    const tick = clockTicks();
    const s = readStat(pid); // stopped: the same times usage() read
    expect(u.ctime).toBe((s.utime * 1000) / tick + (s.stime * 1000) / tick);
    expect(u.ctime).toBeGreaterThanOrEqual(100); // at least the 10 ticks it burned
    between(u.elapsed, up0 * 1000 - (s.starttime * 1000) / tick, up1 * 1000 - (s.starttime * 1000) / tick);
    between(u.timestamp, t0, t1);
    // First call: pidusage's formula without history, the process's life; it falls as uptime grows, so between the two ends.
    between(u.cpu, pidusageCpu(null, sampleOf(pid, up1), tick), pidusageCpu(null, sampleOf(pid, up0), tick));
    expect(u.cpu).toBeGreaterThan(0);
    // Second call: a stopped process used no CPU since: exactly 0.
    expect(usage(pid).cpu).toBe(0);
    // maxage 0 keeps no history: every call is a first call again.
    expect(usage(pid, { maxage: 0 }).cpu).toBeGreaterThan(0);
    expect(usage(pid, { maxage: 0 }).cpu).toBeGreaterThan(0);
  });

  it('has the real pidusage\'s keys and the same ctime, pid and ppid on the same stopped process', async () => {
    const pid = busy.pid!;
    const theirs = await pidusage(pid);
    const ours = usage(pid);
    expect(Object.keys(theirs).sort()).toEqual([...PIDUSAGE_KEYS].sort());
    for (const k of PIDUSAGE_KEYS) expect(typeof (ours as unknown as Record<string, unknown>)[k]).toBe(typeof theirs[k]);
    expect(ours.ctime).toBe(theirs.ctime);
    expect(ours.pid).toBe(theirs.pid);
    expect(ours.ppid).toBe(theirs.ppid);
  });

  it('clockTicks() is getconf CLK_TCK, read from auxv without spawning', () => {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(clockTicks()).toBe(Number(r.stdout.trim()));
  });
});

describe('usage() of many pids and of dead ones', () => {
  it('reads several pids in one call, keyed by pid', () => {
    const pid = busy.pid!;
    const r = usage([process.pid, pid]);
    expect(Object.keys(r).map(Number).sort((a, b) => a - b)).toEqual([process.pid, pid].sort((a, b) => a - b));
    expect(r[pid]!.pid).toBe(pid);
    expect(r[process.pid]!.ppid).toBe(process.ppid);
    expect(usage([])).toEqual({});
  });

  it('a dead pid throws ESRCH with errno and syscall; in an array it is left out', () => {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const dead = Number(r.stdout);
    expect(Number.isSafeInteger(dead) && dead > 0).toBe(true);
    let caught: NodeJS.ErrnoException | undefined;
    try {
      usage(dead);
    } catch (err) {
      caught = err as NodeJS.ErrnoException;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(caught!.code).toBe('ESRCH');
    expect(caught!.errno).toBe(-os.constants.errno.ESRCH);
    expect(caught!.syscall).toBe('open');
    expect(caught!.path).toBe(`/proc/${dead}/stat`);
    expect(Object.keys(usage([process.pid, dead]))).toEqual([String(process.pid)]);
  });

  // As root: a child running as nobody reads pid 1 (root's), which needs the runtime and the checkout open to others
  // (the pinned runtimes under a 0700 folder are not). Not root: pid 1 is another user's already.
  const asRoot = process.getuid?.() === 0;
  /** Others may search every folder on the way to `file` and have `bit` (0o001 run, 0o004 read) on it. */
  const othersCan = (file: string, bit: number): boolean => {
    const parts = path.resolve(file).split(path.sep);
    for (let i = 2; i < parts.length; i++) {
      if ((fs.statSync(parts.slice(0, i).join(path.sep)).mode & 0o001) === 0) return false;
    }
    return (fs.statSync(file).mode & bit) !== 0;
  };
  const skip = asRoot && !(othersCan(process.execPath, 0o001) && othersCan(path.join(ROOT, 'dist', 'lib', 'index.js'), 0o004));
  it.skipIf(skip)('reads another user\'s process (stat and statm are world-readable; smaps_rollup is not)', () => {
    const code = `const pw = require(${JSON.stringify(path.join(ROOT, 'dist', 'lib', 'index.js'))});
      const u = pw.usage(1);
      let rollup = 'read';
      try { pw.readSmapsRollup(1); } catch (e) { rollup = e.code; }
      console.log(JSON.stringify({ u, rollup, page: pw.pageSize() }));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { u: { pid: number; ppid: number; memory: number }; rollup: string; page: number };
    expect(out.u.pid).toBe(1);
    expect(out.u.ppid).toBe(0);
    expect(out.u.memory).toBeGreaterThan(0);
    expect(out.u.memory % out.page).toBe(0);
    if (asRoot) expect(out.rollup).toBe('EACCES');
  });

  it('refuses bad pids and options with TypeError/RangeError before reading', () => {
    expect(() => usage('1' as unknown as number)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => usage(0)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    expect(() => usage(1.5)).toThrow(RangeError);
    expect(() => usage(2 ** 22 + 1)).toThrow(RangeError);
    expect(() => usage([process.pid, 'x' as unknown as number])).toThrow(/pids\[1\]/);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => usage([process.pid, , process.pid] as number[])).toThrow(/pids\[1\]/);
    expect(() => usage(process.pid, { maxage: -1 })).toThrow(RangeError);
    expect(() => usage(process.pid, { children: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});
