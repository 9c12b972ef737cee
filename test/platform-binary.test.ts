/**
 * The binary that loaded matches the platform, and every size the library
 * computes follows the page size the kernel reports (4K natively here; 4K and
 * 16K in the arm64 runs under qemu, scripts/arm64-test.sh, which sets
 * PAGEWISE_EXPECT_ARCH and PAGEWISE_EXPECT_PAGESIZE). Also prints what the
 * measurement probes of test/helpers/emulation.ts found on this machine.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mmap, pageSize, hugePageSize, Mapping } from '../lib/index';
import { nativeOrigin, native, NAPI_VERSION } from '../lib/native/binding';
import { labOrigin, labMissing } from '../lib/native/lab';
import { ifMeasurable, underEmulation } from './helpers/emulation';
import { ASAN, unlessSanitizer } from './helpers/sanitizer';

const page = pageSize();

describe('platform', () => {
  it('loads the binary for this arch from where the run asked', () => {
    const expectArch = process.env.PAGEWISE_EXPECT_ARCH;
    if (expectArch) expect(process.arch).toBe(expectArch);
    const fromSource = process.env.PAGEWISE_FROM_SOURCE;
    const wantKind = fromSource && fromSource !== '0' && fromSource !== 'false' ? 'build' : 'prebuild';
    if (wantKind === 'prebuild') {
      expect(nativeOrigin).toEqual({ kind: 'prebuild', file: expect.stringContaining(`/prebuilds/linux-${process.arch}/`) });
    } else {
      expect(nativeOrigin.kind).toBe('build');
    }
    expect(typeof native.mmap).toBe('function');
    expect(NAPI_VERSION).toBe(8);
  });

  it('reads the page size at run time', () => {
    const expected = process.env.PAGEWISE_EXPECT_PAGESIZE;
    if (expected) expect(page).toBe(Number(expected));
    expect([4, 16, 64].map((k) => k * 1024)).toContain(page);
    const thp = hugePageSize();
    // PMD size: a page of page-table entries, each 8 bytes, each mapping one page.
    if (thp !== null && !underEmulation().qemu) expect(thp).toBe((page / 8) * page);
  });

  it('rounds lengths to the page size it read', () => {
    for (const [len, pages] of [[1, 1], [page - 1, 1], [page, 1], [page + 1, 2], [3 * page - 1, 3]] as const) {
      const m: Mapping = mmap(len);
      try {
        expect(m.length).toBe(pages * page);
        expect(m.address % BigInt(page)).toBe(0n);
        expect(m.view().byteLength).toBe(pages * page);
        m.view()[pages * page - 1] = 1;
        ifMeasurable('mincore', 'mincore of the last byte', () => expect(m.residentPages()).toBe(1));
      } finally {
        m.unmap();
      }
    }
  });

  it('misaligned offsets are refused at this page size, aligned ones are not', () => {
    const m = mmap(4 * page);
    try {
      expect(() => m.advise('dontneed', page / 2, page)).toThrow(RangeError);
      expect(() => m.advise('dontneed', page, page)).not.toThrow();
      expect(() => m.protect('rw', 2 * page, page)).not.toThrow();
    } finally {
      m.unmap();
    }
  });

  it('reports the measurement probes', () => {
    const e = underEmulation();
    const lines = [`emulated: ${e.qemu} (${e.qemuDetail}), page size ${page}`];
    for (const k of ['smapsRss', 'dontneedZeroes', 'rusageFaults', 'rusageFaultsLong', 'procStatFaults', 'mincore', 'pagemap', 'populateWrite', 'mapPopulate', 'ownAddressSpace', 'adviceFlags', 'mlock2', 'hugetlb', 'pagemapScan', 'forkChildFaults', 'perf', 'mincoreProtNone', 'brk'] as const) {
      lines.push(`  ${k}: ${e[k].ok ? 'exact' : 'NOT exact'}: ${e[k].detail}`);
    }
    console.log(lines.join('\n'));
    // Natively every probe must pass: a failing probe on real hardware is a bug, not a skip.
    if (!e.qemu) {
      expect({ smaps: e.smapsRss.ok, dontneed: e.dontneedZeroes.ok, stat: e.procStatFaults.ok, mincore: e.mincore.ok, pagemap: e.pagemap.ok, mapPopulate: e.mapPopulate.ok, ownAddressSpace: e.ownAddressSpace.ok, adviceFlags: e.adviceFlags.ok, mlock2: e.mlock2.ok, hugetlb: e.hugetlb.ok, pagemapScan: e.pagemapScan.ok, mincoreProtNone: e.mincoreProtNone.ok, brk: e.brk.ok })
        .toEqual({ smaps: true, dontneed: true, stat: true, mincore: true, pagemap: true, mapPopulate: true, ownAddressSpace: true, adviceFlags: true, mlock2: true, hugetlb: true, pagemapScan: true, mincoreProtNone: true, brk: true });
      unlessSanitizer('the exact RUSAGE_THREAD probes', ASAN.faults, () =>
        expect({ rusage: e.rusageFaults.ok, rusageLong: e.rusageFaultsLong.ok }).toEqual({ rusage: true, rusageLong: true }));
      unlessSanitizer('the fork child probe', ASAN.shadowReads, () => expect(e.forkChildFaults.ok).toBe(true));
    }
  });
});

describe('the loader picks a binary that loads', () => {
  // A copy of the package in a temporary folder (compiled lib, package.json,
  // binding.gyp, node_modules linked), with a real binary as its prebuild and
  // a build/Release/pagewise.node that is newer but cannot load.
  const here = path.resolve(__dirname, '..');
  const real = nativeOrigin.file;
  const tag = `linux-${process.arch}`;
  function fakePackage(opts: { prebuild: boolean; build: 'broken' | 'none' }): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-loader-'));
    fs.cpSync(path.join(here, 'dist'), path.join(dir, 'dist'), { recursive: true });
    for (const f of ['package.json', 'binding.gyp']) fs.copyFileSync(path.join(here, f), path.join(dir, f));
    fs.symlinkSync(path.join(here, 'node_modules'), path.join(dir, 'node_modules'));
    if (opts.prebuild) {
      fs.mkdirSync(path.join(dir, 'prebuilds', tag), { recursive: true });
      fs.copyFileSync(real, path.join(dir, 'prebuilds', tag, 'pagewise.node'));
      const old = new Date(Date.now() - 3600_000);
      fs.utimesSync(path.join(dir, 'prebuilds', tag, 'pagewise.node'), old, old);
    }
    if (opts.build === 'broken') {
      fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'build', 'Release', 'pagewise.node'), 'not an ELF file\n');
    }
    return dir;
  }
  function load(dir: string): { origin?: { kind: string; file: string }; code?: string; message?: string } {
    const r = spawnSync(process.execPath, ['-e', `
      try { console.log(JSON.stringify({ origin: require(${JSON.stringify(path.join(dir, 'dist/lib/native/binding.js'))}).nativeOrigin })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`], {
      encoding: 'utf8', env: { ...process.env, PAGEWISE_FROM_SOURCE: '0', PAGEWISE_BINARY: '' },
    });
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as ReturnType<typeof load>;
  }
  it.skipIf(!fs.existsSync(path.join(here, 'dist/lib/native/binding.js')))('a newer build that cannot load falls back to the prebuild; with no prebuild the error names both', () => {
    const withPrebuild = fakePackage({ prebuild: true, build: 'broken' });
    const without = fakePackage({ prebuild: false, build: 'broken' });
    try {
      expect(load(withPrebuild).origin).toEqual({ kind: 'prebuild', file: path.join(withPrebuild, 'prebuilds', tag, 'pagewise.node') });
      const failed = load(without);
      expect(failed.code).toBe('ERR_PAGEWISE_NO_BINARY');
      expect(failed.message).toContain(`prebuilds/${tag}: none shipped`);
      expect(failed.message).toMatch(/build\/Release\/pagewise\.node: .*(invalid ELF header|file too short|cannot open shared object)/);
      expect(failed.message).toContain('npx --yes node-gyp rebuild');
    } finally {
      fs.rmSync(withPrebuild, { recursive: true, force: true });
      fs.rmSync(without, { recursive: true, force: true });
    }
  });
});

describe('the shipped core binary holds the system-call layer only; lab code is a second binary', () => {
  const here = path.resolve(__dirname, '..');
  // Dynamic symbols, demangled. The lab's entry points are extern (not
  // static) so that nm shows them: before the split, the core showed
  // pagewise::InitCBench and pagewise::InitProbe.
  const labSymbol = /cbench|CowProbe|UnmapRemap|InitProbe|InitForkProbe/i;
  function symbols(file: string): string[] {
    const r = spawnSync('nm', ['-D', '--defined-only', '-C', file], { encoding: 'utf8' });
    if (r.error) throw r.error;
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\n').filter(Boolean);
  }
  const haveNm = !spawnSync('nm', ['--version']).error;
  it.skipIf(!haveNm)('nm -D of the core binary the suite loaded shows no benchmark or probe symbol; the lab binary has them', () => {
    const core = symbols(nativeOrigin.file);
    expect(core.some((l) => /pagewise::InitRegion/.test(l))).toBe(true);
    expect(core.filter((l) => labSymbol.test(l))).toEqual([]);
    expect(labMissing()).toBeNull();
    const lab = symbols(labOrigin()!);
    for (const name of ['pagewise::lab::InitCBench', 'pagewise::lab::CowProbe', 'pagewise::lab::UnmapRemap'])
      expect(lab.some((l) => l.includes(name)), name).toBe(true);
    expect(lab.some((l) => /pagewise::InitRegion/.test(l))).toBe(false);
  });
  it('the lab binary sits beside the core one: the build next to the build, the prebuild next to the prebuild', () => {
    const dir = path.dirname(nativeOrigin.file);
    expect(labOrigin()).toBe(nativeOrigin.kind === 'prebuild' ? path.join(dir, 'lab', 'pagewise_lab.node') : path.join(dir, 'pagewise_lab.node'));
  });
  it.skipIf(!fs.existsSync(path.join(here, 'dist/lib/native/lab.js')))('a missing lab binary fails the baselines and skips the experiments that need it, naming the file; the core still works', () => {
    const missing = '/nonexistent/pagewise_lab.node';
    const r = spawnSync(process.execPath, ['-e', `
      const out = {};
      const { native } = require(${JSON.stringify(path.join(here, 'dist/lib/native/binding.js'))});
      out.pageSize = native.pageSize();
      try { require(${JSON.stringify(path.join(here, 'dist/lib/bench/cnative.js'))}).cbench.cbenchNow(); out.loaded = true; }
      catch (e) { out.code = e.code; out.message = e.message; }
      const x = require(${JSON.stringify(path.join(here, 'dist/lib/experiments/index.js'))});
      const [cow] = x.runExperiments('cow-fork');
      out.cowSkipped = cow.skipped;
      console.log(JSON.stringify(out));`], {
      encoding: 'utf8', env: { ...process.env, PAGEWISE_LAB_BINARY: missing },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { pageSize: number; loaded?: boolean; code?: string; message?: string; cowSkipped?: string };
    expect(out.pageSize).toBe(page);
    expect(out.loaded).toBeUndefined();
    expect(out.code).toBe('ERR_PAGEWISE_NO_LAB_BINARY');
    expect(out.message).toContain(`${missing}: not there`);
    expect(out.message).toContain('pagewise_lab.node');
    expect(out.cowSkipped).toContain(`${missing}: not there`);
  });
});
