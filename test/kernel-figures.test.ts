/**
 * Figures for experimenters (issue 18): per-size mTHP state and counters,
 * /proc/<pid>/ksm_stat, and the process's memory cgroup. Parsers on fixture
 * text (captured from this machine's kernel, x86_64-6.18, a cgroup v1/hybrid
 * host; and constructed from the documented cgroup v2 formats, see
 * test/fixtures/proc/README.md), then the readers on the live system,
 * asserting what this host has.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectParseError } from './helpers/parse-error';
import {
  parseMthp, mthp, parseKsmStat, ksmStat, parseProcCgroup, parseCgroupMounts, parseCgroupValue, parseCgroupLimit,
  parseCgroupFlatKeyed, parsePressure, cgroupMemory, readThp, parseThp, pageSize, mmap,
} from '../lib/index';

const FIX = path.join(__dirname, 'fixtures', 'proc');
const read = (dir: string, name: string): string => fs.readFileSync(path.join(FIX, dir, name), 'utf8');
const KiB = 1024;
const MiB = 1024 * KiB;

/** The captured mthp/ tree as parseMthp's input: every file by its path under transparent_hugepage/. */
function mthpFiles(dir: string): Record<string, string> {
  const root = path.join(FIX, dir, 'mthp');
  const files: Record<string, string> = {};
  for (const rel of fs.readdirSync(root, { recursive: true }) as string[]) {
    if (fs.statSync(path.join(root, rel)).isFile()) files[rel.split(path.sep).join('/')] = fs.readFileSync(path.join(root, rel), 'utf8');
  }
  return files;
}

const isPowerOfTwo = (n: number): boolean => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

describe('captured: x86_64 Linux 6.18 (4K pages, cgroup v1 memory controller, hybrid cgroup2 mount)', () => {
  const dir = 'x86_64-6.18';
  const page = Number(read(dir, 'PAGESIZE').trim());

  it('mTHP: nine sizes from 8 KiB to 2 MiB, modes, shmem modes and every stats counter', () => {
    const m = parseMthp(mthpFiles(dir));
    const sizes = Object.keys(m).map(Number);
    expect(sizes).toEqual([8, 16, 32, 64, 128, 256, 512, 1024, 2048].map((k) => k * KiB));
    expect(sizes[0]).toBe(2 * page); // order 1
    // The PMD size follows the top-level mode; the small sizes are off.
    expect(m[2 * MiB]).toMatchObject({ size: 2 * MiB, enabled: 'inherit', shmemEnabled: 'inherit' });
    for (const k of [16, 32, 64, 128, 256, 512, 1024]) expect(m[k * KiB]).toMatchObject({ enabled: 'never', shmemEnabled: 'never' });
    // Order 1 is offered to shmem only: no enabled file, and no anonymous counters.
    expect(m[8 * KiB]).toMatchObject({ enabled: null, shmemEnabled: 'never' });
    expect(Object.keys(m[8 * KiB]!.stats!).length).toBe(11);
    expect(m[8 * KiB]!.stats!.anon_fault_alloc).toBeUndefined();
    expect(m[8 * KiB]!.stats!.split).toBe(45);
    expect(Object.keys(m[2 * MiB]!.stats!).length).toBe(18);
    expect(m[2 * MiB]!.stats).toMatchObject({ anon_fault_alloc: 13389, nr_anon: 150, split_deferred: 1469, anon_fault_fallback: 0, swpout: 0 });
    expect(m[64 * KiB]!.stats).toMatchObject({ split: 118, split_failed: 25, anon_fault_alloc: 0 });
  });

  it('mTHP agrees with the THP parser on the one size both captured (64 KiB)', () => {
    const thp = parseThp({ 'hugepages-64kB/enabled': read(dir, 'thp/hugepages-64kB_enabled') });
    expect(parseMthp(mthpFiles(dir))[64 * KiB]!.enabled).toBe(thp.sizes[64 * KiB]);
  });

  it('ksm_stat: six lines, counters as numbers and the two flags as booleans', () => {
    const k = parseKsmStat(read(dir, 'ksm_stat'));
    expect(k).toEqual({
      rmapItems: 0, zeroPages: 0, mergingPages: 0, processProfit: 0, mergeAny: false, mergeable: false,
      fields: { ksm_rmap_items: 0, ksm_zero_pages: 0, ksm_merging_pages: 0, ksm_process_profit: 0, ksm_merge_any: false, ksm_mergeable: false },
    });
    // Captured again after MADV_MERGEABLE on a fresh mapping (ksmd not running: nothing merged).
    expect(parseKsmStat(read(dir, 'ksm_stat-after-madv-mergeable'))).toMatchObject({ mergeable: true, mergeAny: false, mergingPages: 0 });
  });

  it('/proc/self/cgroup: nine v1 hierarchies and the cgroup2 line', () => {
    const c = parseProcCgroup(read(dir, 'cgroup/cgroup'));
    expect(c.unified).toBe('/');
    expect(c.v1.length).toBe(9);
    expect(c.v1.find((l) => l.controllers.includes('memory'))).toEqual({ id: 4, controllers: ['memory'], path: '/process_api/9f9ba24b3be1250bf245262a610539b7' });
    expect(c.v1.find((l) => l.id === 9)!.controllers).toEqual(['name=systemd']);
  });

  it('mountinfo: nine cgroup v1 mounts and the cgroup2 mount at /sys/fs/cgroup/unified', () => {
    const m = parseCgroupMounts(read(dir, 'cgroup/mountinfo-cgroup'));
    expect(m.filter((e) => e.type === 'cgroup').length).toBe(9);
    expect(m.find((e) => e.controllers.includes('memory'))).toEqual({ type: 'cgroup', mountPoint: '/sys/fs/cgroup/memory', root: '/', controllers: ['memory'] });
    expect(m.filter((e) => e.type === 'cgroup2')).toEqual([{ type: 'cgroup2', mountPoint: '/sys/fs/cgroup/unified', root: '/', controllers: [] }]);
  });

  it('the hybrid host\'s cgroup2 root: only hugetlb on v2, and its memory.pressure', () => {
    expect(read(dir, 'cgroup/cgroup.controllers').trim()).toBe('hugetlb');
    expect(parsePressure(read(dir, 'cgroup/memory.pressure'))).toEqual({
      some: { avg10: 0, avg60: 0, avg300: 0, total: 37462 },
      full: { avg10: 0, avg60: 0, avg300: 0, total: 884 },
    });
  });

  it('cgroup v1 memory usage files; v1\'s "no limit" sentinel is beyond the safe integers', () => {
    expect(parseCgroupValue('memory.usage_in_bytes', read(dir, 'cgroup/v1-memory/memory.usage_in_bytes'))).toBe(11776000);
    expect(parseCgroupValue('memory.max_usage_in_bytes', read(dir, 'cgroup/v1-memory/memory.max_usage_in_bytes'))).toBe(12464128);
    const limit = read(dir, 'cgroup/v1-memory/memory.limit_in_bytes').trim();
    // PAGE_COUNTER_MAX pages: 2^63 - 1 rounded down to the capturing kernel's page.
    expect(BigInt(limit)).toBe(((2n ** 63n - 1n) / BigInt(page)) * BigInt(page));
    expectParseError(() => parseCgroupValue('memory.limit_in_bytes', limit), 'memory.limit_in_bytes');
  });
});

describe('constructed: a cgroup v2 host (from cgroup-v2.rst, psi.rst and fs/proc/base.c formats, not captured)', () => {
  const dir = 'cgroup2-host-constructed';
  const page = Number(read(dir, 'PAGESIZE').trim());

  it('/proc/self/cgroup of a pure v2 host: one 0:: line, no v1 hierarchies', () => {
    expect(parseProcCgroup(read(dir, 'cgroup'))).toEqual({ unified: '/user.slice/user-1000.slice/session-4.scope', v1: [] });
  });

  it('mountinfo: the cgroup2 mount at /sys/fs/cgroup with optional fields; sysfs skipped', () => {
    expect(parseCgroupMounts(read(dir, 'mountinfo-cgroup'))).toEqual([{ type: 'cgroup2', mountPoint: '/sys/fs/cgroup', root: '/', controllers: [] }]);
  });

  it('single values: memory.current, memory.peak, memory.max in bytes, memory.high "max"', () => {
    expect(parseCgroupValue('memory.current', read(dir, 'memory.current'))).toBe(700 * MiB);
    expect(parseCgroupValue('memory.peak', read(dir, 'memory.peak'))).toBe(1024 * MiB);
    expect(parseCgroupLimit('memory.max', read(dir, 'memory.max'))).toBe(2048 * MiB);
    expect(parseCgroupLimit('memory.high', read(dir, 'memory.high'))).toBe('max');
  });

  it('memory.stat: every key in the kernel\'s order, values exact; the fixture is self-consistent', () => {
    const s = parseCgroupFlatKeyed('memory.stat', read(dir, 'memory.stat'));
    expect(Object.keys(s).length).toBe(61);
    expect(Object.keys(s).slice(0, 5)).toEqual(['anon', 'file', 'kernel', 'kernel_stack', 'pagetables']);
    expect(s).toMatchObject({ anon: 440 * MiB, file: 230 * MiB, kernel: 30 * MiB, anon_thp: 100 * MiB, pgfault: 2883584, pgmajfault: 412, thp_fault_alloc: 50, thp_collapse_alloc: 3 });
    expect(s.slab).toBe(s.slab_reclaimable! + s.slab_unreclaimable!);
    expect(s.anon! + s.file! + s.kernel! + s.sock!).toBe(parseCgroupValue('memory.current', read(dir, 'memory.current')));
  });

  it('memory.pressure: some and full with two-decimal averages and microsecond totals', () => {
    expect(parsePressure(read(dir, 'memory.pressure'))).toEqual({
      some: { avg10: 1.53, avg60: 0.87, avg300: 0.21, total: 4318877 },
      full: { avg10: 0.94, avg60: 0.51, avg300: 0.12, total: 2659014 },
    });
  });

  it('ksm_stat of a process opted in with PR_SET_MEMORY_MERGE whose rmap items cost more than KSM saved', () => {
    const k = parseKsmStat(read(dir, 'ksm_stat'));
    expect(k).toMatchObject({ rmapItems: 65536, zeroPages: 0, mergingPages: 512, processProfit: -2 * MiB, mergeAny: true, mergeable: true });
    // profit = (merging + zero pages) * page size - rmap items * sizeof(struct ksm_rmap_item) (64 bytes on 64-bit)
    expect(k.processProfit).toBe((k.mergingPages! + k.zeroPages!) * page - k.rmapItems! * 64);
  });
});

describe('hostile inputs: ProcParseError naming the file, or null fields for what older kernels lack', () => {
  it('ksm_stat of a 6.1 kernel (one line) leaves the later fields null', () => {
    expect(parseKsmStat('ksm_rmap_items 12\n')).toMatchObject({ rmapItems: 12, zeroPages: null, mergingPages: null, processProfit: null, mergeAny: null, mergeable: null });
  });

  it('ksm_stat garbage, a flag that is not yes/no, a counter that is not a number, empty input', () => {
    expect(expectParseError(() => parseKsmStat('ksm_rmap_items 1\nrubbish\n'), 'ksm_stat').line).toBe(2);
    expect(expectParseError(() => parseKsmStat('ksm_merge_any: 3\n'), 'ksm_stat').message).toMatch(/yes or no/);
    expect(expectParseError(() => parseKsmStat('ksm_merging_pages: yes\n'), 'ksm_stat').message).toMatch(/an integer/);
    expectParseError(() => parseKsmStat(''), 'ksm_stat');
  });

  it('mTHP: two [selected] modes, a counter that is not a number; older kernels give null fields', () => {
    expectParseError(() => parseMthp({ 'hugepages-64kB/enabled': 'always [inherit] [never]\n' }), 'hugepages-64kB/enabled');
    expectParseError(() => parseMthp({ 'hugepages-64kB/stats/anon_fault_alloc': '-1\n' }), 'hugepages-64kB/stats/anon_fault_alloc');
    // 6.8: enabled only.
    expect(parseMthp({ 'hugepages-64kB/enabled': 'always inherit madvise [never]\n', unrelated: 'x' })).toEqual({ [64 * KiB]: { size: 64 * KiB, enabled: 'never', shmemEnabled: null, stats: null } });
    expect(() => parseMthp({ 'hugepages-64kB/enabled': 5 as never })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('cgroup files: bad lines name their line; PSI without some, or without a key', () => {
    expect(expectParseError(() => parseProcCgroup('0::/\nnonsense\n'), 'cgroup').line).toBe(2);
    expect(expectParseError(() => parseCgroupFlatKeyed('memory.stat', 'anon 1\nfile\n'), 'memory.stat').line).toBe(2);
    expectParseError(() => parseCgroupValue('memory.current', 'max\n'), 'memory.current');
    expectParseError(() => parseCgroupLimit('memory.max', '12k\n'), 'memory.max');
    expectParseError(() => parsePressure('full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'), 'pressure');
    expect(expectParseError(() => parsePressure('some avg10=0.00 avg60=0.00 total=0\n'), 'pressure').message).toMatch(/avg300/);
    expectParseError(() => parseCgroupMounts('1 2 3\n'), 'mountinfo');
    // A mount point with a space is escaped as \040 by the kernel.
    expect(parseCgroupMounts('40 30 0:37 / /mnt/my\\040cgroup rw,relatime - cgroup2 cgroup2 rw\n')[0]!.mountPoint).toBe('/mnt/my cgroup');
    // A path holding a colon keeps it.
    expect(parseProcCgroup('0::/a:b\n').unified).toBe('/a:b');
  });
});

describe('live: the readers on this host', () => {
  it('mthp(): sizes are powers of two above the page size, modes from the documented sets, counters non-negative integers', () => {
    const m = mthp();
    const dirs = fs.existsSync('/sys/kernel/mm/transparent_hugepage') ? fs.readdirSync('/sys/kernel/mm/transparent_hugepage').filter((d) => /^hugepages-\d+kB$/.test(d)) : [];
    if (dirs.length === 0) {
      expect(m).toBeNull();
      return;
    }
    expect(m).not.toBeNull();
    const sizes = Object.keys(m!).map(Number);
    expect(sizes.length).toBe(dirs.length);
    for (const size of sizes) {
      const e = m![size]!;
      expect(e.size).toBe(size);
      expect(isPowerOfTwo(size / pageSize())).toBe(true);
      expect(size).toBeGreaterThan(pageSize());
      if (e.enabled !== null) expect(['always', 'inherit', 'madvise', 'never']).toContain(e.enabled);
      if (e.shmemEnabled !== null) expect(['always', 'inherit', 'within_size', 'advise', 'never']).toContain(e.shmemEnabled);
      for (const v of Object.values(e.stats ?? {})) expect(Number.isSafeInteger(v) && v >= 0).toBe(true);
    }
    // The same modes as the THP reader reads.
    const thp = readThp();
    for (const [size, mode] of Object.entries(thp.sizes)) expect(m![Number(size)]!.enabled).toBe(mode);
  });

  it('mthp(): a PMD-sized fault in a MADV_HUGEPAGE region moves the PMD size\'s counters', () => {
    const thp = readThp();
    const m0 = mthp();
    const pmd = thp.hpagePmdSize;
    const row = pmd === null || m0 === null ? undefined : m0[pmd];
    const effective = row?.enabled === 'inherit' ? thp.mode : row?.enabled;
    if (!row?.stats || row.stats.anon_fault_alloc === undefined || (effective !== 'always' && effective !== 'madvise')) {
      console.log(`PMD-size THP faults not testable here: mode ${String(effective)}, stats ${row?.stats ? 'present' : 'absent'}`);
      return;
    }
    const map = mmap(2 * pmd!);
    try {
      // The PMD-aligned huge page inside the mapping.
      const offset = Number((BigInt(pmd!) - (map.address % BigInt(pmd!))) % BigInt(pmd!));
      map.advise('hugepage', offset, pmd!);
      map.view(offset, pmd!)[0] = 1;
      const m1 = mthp()!;
      // System-wide counters: other processes can only add to them. Either a
      // huge page was allocated or the fault fell back; one of them counted it.
      const before = row.stats.anon_fault_alloc + (row.stats.anon_fault_fallback ?? 0);
      const after = m1[pmd!]!.stats!.anon_fault_alloc! + (m1[pmd!]!.stats!.anon_fault_fallback ?? 0);
      expect(after).toBeGreaterThanOrEqual(before + 1);
    } finally {
      map.unmap();
    }
  });

  it('ksmStat(): null without the file; here MADV_MERGEABLE turns ksm_mergeable on and unmapping turns it off', () => {
    const k0 = ksmStat();
    if (!fs.existsSync('/proc/self/ksm_stat')) {
      expect(k0).toBeNull();
      return;
    }
    expect(k0).not.toBeNull();
    expect(Number.isSafeInteger(k0!.rmapItems)).toBe(true);
    expect(ksmStat(process.pid)).not.toBeNull();
    if (k0!.mergeable === null) {
      console.log('ksm_stat has no ksm_mergeable line (kernel before 6.15)');
      return;
    }
    if (k0!.mergeAny) {
      // Opted in as a whole (systemd's MemoryKSM=, or a parent's prctl inherited): every mapping is a candidate.
      expect(k0!.mergeable).toBe(true);
      console.log('this process runs with PR_SET_MEMORY_MERGE on: ksm_mergeable cannot be toggled by one mapping');
      return;
    }
    expect(k0!.mergeable).toBe(false); // nothing in a fresh test process asks for MADV_MERGEABLE
    const map = mmap(16 * pageSize());
    try {
      map.advise('mergeable');
      expect(ksmStat()!.mergeable).toBe(true);
    } finally {
      map.unmap();
    }
    expect(ksmStat()!.mergeable).toBe(false);
  });

  it('cgroupMemory(): says which hierarchy this host uses, and reads what it has', () => {
    const c = cgroupMemory();
    const CGROUP2_SUPER_MAGIC = 0x63677270;
    const rootIsV2 = fs.statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
    const mounts = parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
    const proc = parseProcCgroup(fs.readFileSync('/proc/self/cgroup', 'utf8'));
    expect(c.path).toBe(proc.unified);
    if (rootIsV2) {
      expect(c.hierarchy).toBe('v2');
    } else {
      expect(c.hierarchy).not.toBe('v2');
      expect(c.hierarchy).toBe(mounts.some((m) => m.type === 'cgroup2') ? 'hybrid' : mounts.some((m) => m.type === 'cgroup') ? 'v1' : 'none');
    }
    if (c.memoryController === 'v2') {
      expect(c.current).toBeGreaterThan(0);
      expect(c.summary).toMatch(/^cgroup v2/);
      if (c.peak !== null) expect(c.peak).toBeGreaterThanOrEqual(c.current!);
      expect(c.stat).not.toBeNull();
    } else {
      // No v2 memory controller: none of its files, and the summary says why.
      expect([c.current, c.peak, c.max, c.high, c.stat]).toEqual([null, null, null, null, null]);
      expect(c.summary).toMatch(/v1|not enabled|no cgroup/);
    }
    const v1Memory = proc.v1.find((l) => l.controllers.includes('memory'));
    if (c.memoryController === 'v1') {
      expect(c.hierarchy === 'v1' || c.hierarchy === 'hybrid').toBe(true);
      expect(c.summary).toMatch(/cgroup v1/);
      expect(c.v1!.path).toBe(v1Memory!.path);
      expect(c.v1!.usage).toBeGreaterThan(0);
      expect(c.v1!.maxUsage).toBeGreaterThanOrEqual(c.v1!.usage!);
      expect(c.v1!.limit === 'max' || c.v1!.limit! > 0).toBe(true);
    }
    // PSI where the v2 cgroup has it: the same shape as /proc/pressure/memory.
    if (c.pressure !== null) {
      expect(c.pressure.full).not.toBeNull();
      for (const line of [c.pressure.some, c.pressure.full!]) {
        for (const v of [line.avg10, line.avg60, line.avg300]) expect(v >= 0 && v <= 100).toBe(true);
        expect(Number.isSafeInteger(line.total)).toBe(true);
      }
      if (c.path === '/' && fs.existsSync('/proc/pressure/memory')) {
        // At the root the cgroup figure is the system's: totals only grow, so
        // the later read of /proc/pressure/memory is at least the earlier one.
        expect(parsePressure(fs.readFileSync('/proc/pressure/memory', 'utf8')).some.total).toBeGreaterThanOrEqual(c.pressure.some.total);
      }
    }
    console.log(`cgroupMemory(): ${c.summary}`);
  });
});
