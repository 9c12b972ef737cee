/**
 * The /proc parsers on fixture text: captured from this machine's kernel
 * (x86_64-6.18), constructed for arm64 with 64K pages from the documented
 * formats (see test/fixtures/proc/README.md), and hostile inputs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectParseError } from './helpers/parse-error';
import {
  parseStatus, parseStatm, parseStat, parseMaps, parseSmaps, parseSmapsRollup, parseMeminfo, parseVmstat, parseThp,
  parseOvercommit, findMapping,
} from '../lib/index';

const FIX = path.join(__dirname, 'fixtures', 'proc');
const read = (dir: string, name: string): string => fs.readFileSync(path.join(FIX, dir, name), 'utf8');
const KiB = 1024;

function thpFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of fs.readdirSync(path.join(FIX, dir, 'thp'))) {
    files[f.replace(/^(hugepages-\d+kB)_enabled$/, '$1/enabled')] = read(dir, `thp/${f}`);
  }
  return files;
}

function overcommitFiles(dir: string): Parameters<typeof parseOvercommit>[0] {
  const r = (n: string): string => read(dir, `sys_vm/${n}`);
  return { overcommit_memory: r('overcommit_memory'), overcommit_ratio: r('overcommit_ratio'), overcommit_kbytes: r('overcommit_kbytes'), max_map_count: r('max_map_count') };
}

describe('captured: x86_64 Linux 6.18, 4K pages', () => {
  const dir = 'x86_64-6.18';
  const page = Number(read(dir, 'PAGESIZE').trim());

  it('statm: seven page counts converted with the capturing kernel\'s page size', () => {
    const s = parseStatm(read(dir, 'statm'), page);
    expect(s.pages).toEqual({ size: 182059, resident: 10168, shared: 8581, text: 6802, lib: 0, data: 12184, dt: 0 });
    expect(s.resident).toBe(10168 * page);
    expect(s.size).toBe(182059 * page);
    expect(s.pageSize).toBe(page);
  });

  it('stat: fields named per proc_pid_stat(5), rss in bytes, rsslim as bigint', () => {
    const s = parseStat(read(dir, 'stat'), page);
    expect(s).toMatchObject({ pid: 17860, comm: 'node', state: 'R', ppid: 17854, minflt: 2164, majflt: 0, numThreads: 7, vsize: 745713664, rssPages: 10149 });
    expect(s.rss).toBe(10149 * page);
    expect(s.rsslim).toBe(18446744073709551615n);
    expect(s.processor).toBe(0);
    expect(s.fields.length).toBe(50);
  });

  it('status: kB values in bytes, masks kept as text, every line kept', () => {
    const s = parseStatus(read(dir, 'status'));
    expect(s).toMatchObject({ name: 'node', pid: 17860, threads: 7, vmRss: 40536 * KiB, vmHwm: 40536 * KiB });
    expect(s.fields.Umask).toBe('0022');
    expect(s.fields.SigBlk).toBe('0000000000000000');
    expect(s.fields.Cpus_allowed_list).toBe('0-1');
    expect(s.fields.THP_enabled).toBe(1);
    expect(s.truncated).toBe(false);
  });

  it('maps: 91 entries, bigint addresses, pathnames', () => {
    const m = parseMaps(read(dir, 'maps'));
    expect(m.length).toBe(91);
    expect(m[0]).toMatchObject({ start: 0x400000n, end: 0xb6f000n, perms: 'r--p', offset: 0n, dev: 'fe:00', inode: 260689, pathname: '/usr/bin/node', anonName: null, deleted: false });
    expect(m[1]!.offset).toBe(0x76f000n);
    expect(m.filter((e) => e.pathname === '[heap]').length).toBe(1);
    expect(findMapping(m, 0x400000n + 5n)).toBe(m[0]);
    expect(findMapping(m, 0n)).toBeUndefined();
  });

  it('smaps: every field, THPeligible, VmFlags; agrees with maps on the headers', () => {
    const s = parseSmaps(read(dir, 'smaps'));
    const m = parseMaps(read(dir, 'maps'));
    expect(s.length).toBe(91);
    expect(s.map((e) => e.start)).toEqual(m.map((e) => e.start));
    expect(s[0]).toMatchObject({ rss: 5948 * KiB, pss: 1982 * KiB, size: 7612 * KiB, thpEligible: false, vmFlags: ['rd', 'mr', 'mw', 'me'] });
    expect(s[0]!.fields.KernelPageSize).toBe(page);
    expect(Object.keys(s[0]!.fields).length).toBe(23);
    // Each entry's Size is its address range.
    for (const e of s) expect(e.fields.Size).toBe(e.size);
    expect(s.some((e) => e.vmFlags.includes('nh'))).toBe(true);
  });

  it('smaps_rollup: header range and counters in bytes', () => {
    const r = parseSmapsRollup(read(dir, 'smaps_rollup'));
    expect(r.rss).toBe(40856 * KiB);
    expect(r.fields.Pss_Anon).toBeGreaterThanOrEqual(0);
    expect(r.start < r.end).toBe(true);
    expect(r.truncated).toBe(false);
  });

  it('meminfo: keys as in the file, bytes for kB, plain counts otherwise', () => {
    const m = parseMeminfo(read(dir, 'meminfo'));
    expect(m.MemTotal).toBe(24684096 * KiB);
    expect(m.CommitLimit).toBe(12342048 * KiB);
    expect(m.Committed_AS).toBe(1457892 * KiB);
    expect(m.HugePages_Total).toBe(0);
    expect(m.Hugepagesize).toBe(2048 * KiB);
  });

  it('vmstat: fault counters', () => {
    const v = parseVmstat(read(dir, 'vmstat'));
    expect(v.pgfault).toBe(27870912);
    expect(v.pgmajfault).toBe(1462);
  });

  it('THP: mode, defrag, PMD size, mTHP per-size modes', () => {
    const t = parseThp(thpFiles(dir));
    expect(t).toMatchObject({ mode: 'madvise', modes: ['always', 'madvise', 'never'], defrag: 'madvise', hpagePmdSize: 2 * 1024 * KiB, shmemEnabled: 'never', useZeroPage: true });
    expect(t.sizes[64 * KiB]).toBe('never');
  });

  it('overcommit and max_map_count', () => {
    expect(parseOvercommit(overcommitFiles(dir))).toEqual({ overcommitMemory: 0, overcommitRatio: 50, overcommitBytes: 0, maxMapCount: 65530 });
  });
});

describe('constructed: arm64, 64K pages (from the documented formats, not captured)', () => {
  const dir = 'arm64-64k-constructed';
  const page = Number(read(dir, 'PAGESIZE').trim());

  it('statm and stat convert with 64K pages', () => {
    expect(page).toBe(64 * KiB);
    expect(parseStatm(read(dir, 'statm'), page).resident).toBe(310 * 64 * KiB);
    expect(parseStat(read(dir, 'stat'), page)).toMatchObject({ pid: 4242, rssPages: 310, rss: 310 * 64 * KiB, numThreads: 11, processor: 3 });
  });

  it('maps: arm64 addresses, [anon:NAME], [vvar]/[vdso]', () => {
    const m = parseMaps(read(dir, 'maps'));
    expect(m.length).toBe(10);
    const arena = m.find((e) => e.anonName === 'pagewise-arena')!;
    expect(arena).toMatchObject({ start: 0xffff7c000000n, end: 0xffff7e000000n, size: 32 * 1024 * KiB, pathname: '[anon:pagewise-arena]' });
    expect(m[5]).toMatchObject({ perms: '---p', pathname: '' });
  });

  it('smaps: 64 kB KernelPageSize, sum of Rss equals the rollup', () => {
    const s = parseSmaps(read(dir, 'smaps'));
    const r = parseSmapsRollup(read(dir, 'smaps_rollup'));
    expect(s.length).toBe(5);
    for (const e of s) {
      expect(e.fields.KernelPageSize).toBe(page);
      expect(e.fields.Size).toBe(e.size);
      expect(e.rss % page).toBe(0);
    }
    expect(s.reduce((a, e) => a + e.rss, 0)).toBe(r.rss);
    expect(s.reduce((a, e) => a + e.anonymous, 0)).toBe(r.anonymous);
    expect(s[3]).toMatchObject({ anonName: 'pagewise-arena', thpEligible: false });
    expect(s[3]!.vmFlags).toContain('nh');
  });

  it('THP: 512 MiB PMD huge pages; meminfo Hugepagesize 512 MiB', () => {
    expect(parseThp(thpFiles(dir)).hpagePmdSize).toBe(512 * 1024 * KiB);
    expect(parseThp(thpFiles(dir)).sizes[2048 * KiB]).toBe('never');
    const m = parseMeminfo(read(dir, 'meminfo'));
    expect(m.Hugepagesize).toBe(512 * 1024 * KiB);
    expect(m.VmallocTotal).toBe(133141626880 * KiB);
    expect(parseVmstat(read(dir, 'vmstat')).pgmajfault).toBe(1234);
  });
});

describe('hostile inputs: a clear ProcParseError or a partial result, never a TypeError from inside', () => {
  const h = (name: string): string => read('hostile', name);

  it('a process name with ") (" and spaces: stat splits after the LAST ")"', () => {
    const s = parseStat(h('stat-paren-name'), 4 * KiB);
    expect(s).toMatchObject({ pid: 1234, comm: 'a) (b c', state: 'R', ppid: 1, minflt: 77, majflt: 5, rssPages: 250 });
  });

  it('stat cut inside the name or after a few fields', () => {
    expect(expectParseError(() => parseStat(h('stat-truncated')), 'stat').line).toBe(1);
    expectParseError(() => parseStat(h('stat-short')), 'stat');
  });

  it('statm truncated or with garbage', () => {
    expect(expectParseError(() => parseStatm(h('statm-truncated')), 'statm').message).toMatch(/expected 7 fields/);
    expect(expectParseError(() => parseStatm(h('statm-garbage')), 'statm').message).toMatch(/resident is not an integer/);
  });

  it('empty input is an error for every parser', () => {
    const empty = h('empty');
    expectParseError(() => parseStatm(empty), 'statm');
    expectParseError(() => parseStat(empty), 'stat');
    expectParseError(() => parseStatus(empty), 'status');
    expectParseError(() => parseMaps(empty), 'maps');
    expectParseError(() => parseSmaps(empty), 'smaps');
    expectParseError(() => parseSmapsRollup(empty), 'smaps_rollup');
    expectParseError(() => parseMeminfo(empty), 'meminfo');
    expectParseError(() => parseVmstat(empty), 'vmstat');
    expectParseError(() => parseThp({ enabled: empty }), 'enabled');
    expectParseError(() => parseOvercommit({ overcommit_memory: '', overcommit_ratio: '50', overcommit_kbytes: '0', max_map_count: '1' }), 'overcommit_memory');
  });

  it('truncated maps and smaps: the cut last line is dropped, the rest parsed', () => {
    const full = parseMaps(read('x86_64-6.18', 'maps'));
    const cut = parseMaps(h('maps-truncated'));
    expect(cut.length).toBeGreaterThan(0);
    expect(cut).toEqual(full.slice(0, cut.length));
    const s = parseSmaps(h('smaps-truncated'));
    expect(s.length).toBeGreaterThan(0);
    expect(s[0]!.rss).toBe(5948 * KiB);
  });

  it('status with a strange name and a cut last line: partial, flagged', () => {
    const s = parseStatus(h('status-paren-name-truncated'));
    expect(s).toMatchObject({ name: 'a) (b c', pid: 1234, vmRss: 1000 * KiB, vmSwap: null, truncated: true });
  });

  it('garbage lines name the line', () => {
    expect(expectParseError(() => parseMeminfo(h('meminfo-garbage')), 'meminfo').line).toBe(2);
    expect(expectParseError(() => parseVmstat(h('vmstat-garbage')), 'vmstat').line).toBe(2);
    expect(expectParseError(() => parseMaps(h('maps-garbage')), 'maps').line).toBe(2);
    expectParseError(() => parseSmapsRollup(h('smaps_rollup-no-header')), 'smaps_rollup');
    expectParseError(() => parseThp({ enabled: h('thp-two-selected') }), 'enabled');
  });

  it('deleted files and names with spaces', () => {
    const m = parseMaps(h('maps-odd-names'));
    expect(m[0]).toMatchObject({ pathname: '/tmp/my file', deleted: true });
    expect(m[1]).toMatchObject({ pathname: '[anon:my arena]', anonName: 'my arena' });
  });

  it('a non-string argument is a TypeError from argument validation', () => {
    for (const fn of [parseStatm, parseStat, parseStatus, parseMaps, parseSmaps, parseSmapsRollup, parseMeminfo, parseVmstat] as ((t: unknown) => unknown)[]) {
      expect(() => fn(undefined)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    }
    expect(() => parseThp(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});
