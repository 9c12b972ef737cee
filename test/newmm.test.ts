/**
 * The memory calls Linux gained since 6.x (issue 18): mseal, guard regions,
 * PROCMAP_QUERY, process_madvise batching, MAP_DROPPABLE, memfd_secret.
 * Each works where the kernel has it (probed; the development kernel 6.18 has
 * all) and fails cleanly where it does not: the fallbacks are tested by
 * turning the probes off (PAGEWISE_FORCE_MISSING) in a child.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { adviseMany, explain, kernelHas, ksmStat, memoryMerge, mmap, pageSize, queryMapping, residency, secretMemory, type Mapping } from '../lib/index';
import { parseMaps } from '../lib/kernel/maps';
import { readMaps, readMapsByQuery } from '../lib/kernel/maps-query';
import { cbench } from '../lib/bench/cnative';
import { native } from '../lib/native/binding';
import { runChild } from './helpers/child';
import { underEmulation } from './helpers/emulation';
import { ASAN, unlessSanitizer } from './helpers/sanitizer';

const page = pageSize();
const qemu = underEmulation().qemu;

/** VMAs of /proc/self/maps that overlap [start, end). */
function vmasOver(start: bigint, end: bigint): number {
  return readMaps().filter((e) => e.start < end && start < e.end).length;
}

/** Runs `code` in a child with `feature` turned off; `out` is what it threw. */
function forcedOff(feature: string, code: string): { out: Record<string, unknown>; status: number | null; signal: string | null } {
  return runChildWithEnv({ PAGEWISE_FORCE_MISSING: feature }, `const out = {}; try { ${code}; out.ok = true; } catch (e) { out.code = e.code; out.message = e.message; } console.log(JSON.stringify(out));`);
}

function runChildWithEnv(env: Record<string, string>, code: string): { out: Record<string, unknown>; status: number | null; signal: string | null } {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(env)) {
    saved[k] = process.env[k];
    process.env[k] = env[k];
  }
  try {
    const r = runChild(code);
    const line = r.stdout.trim().split('\n').pop() ?? '{}';
    return { out: JSON.parse(line) as Record<string, unknown>, status: r.status, signal: r.signal };
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

describe.skipIf(!kernelHas('mseal'))('mseal (Linux 6.10+)', () => {
  it('seal(): munmap, mprotect, mremap and destructive madvise fail with EPERM; unmap() says the mapping is sealed for the life of the process', () => {
    const m = mmap(4 * page);
    m.view(0, 8)[0] = 1;
    m.seal();
    expect(m.sealed).toBe(true);
    expect(() => m.unmap()).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'munmap', errno: -1, message: expect.stringMatching(/sealed .*life of the process/) }));
    expect(m.mapped).toBe(true);
    expect(() => m.protect('r')).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'mprotect' }));
    // Destructive advice is refused on sealed memory the process cannot write (a read-only mapping).
    const ro = mmap(page, { prot: 'r' });
    ro.seal();
    expect(() => ro.advise('dontneed')).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'madvise' }));
    expect(() => m.resize(8 * page, { mayMove: true })).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'mremap' }));
    // Still usable, contents intact.
    expect(m.view(0, 8)[0]).toBe(1);
  });

  it('a sealed mapping dropped without unmap stays mapped: the finalizer does not try (child with --expose-gc)', () => {
    const r = runChild(`
      const inMaps = (a) => require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').some((l) => { const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l); return m && BigInt('0x' + m[1]) <= a && a < BigInt('0x' + m[2]); });
      let m = pw.mmap(pw.pageSize()); m.view()[0] = 7; const at = m.address; m.seal(); m = null;
      (async () => { for (let i = 0; i < 8; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); } console.log(JSON.stringify({ still: inMaps(at) })); })();
    `, { nodeArgs: ['--expose-gc'] });
    expect(r.signal).toBe(null);
    expect(JSON.parse(r.stdout.trim())).toEqual({ still: true });
  });
});

it('mseal turned off: ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming Linux 6.10', () => {
  const r = forcedOff('mseal', `pw.mmap(pw.pageSize()).seal()`);
  expect(r.out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Linux 6\.10/) });
});

describe.skipIf(!kernelHas('guard') || qemu)('guard regions (MADV_GUARD_INSTALL, Linux 6.13+)', () => {
  it('guard pages cost no VMA, where protect(none) over the same pages splits the mapping in three', () => {
    const a = mmap(16 * page, { name: 'pw-guard-a' });
    const b = mmap(16 * page, { name: 'pw-guard-b' });
    try {
      const endA = a.address + BigInt(16 * page);
      const endB = b.address + BigInt(16 * page);
      const beforeA = vmasOver(a.address, endA);
      const beforeB = vmasOver(b.address, endB);
      a.guard(4 * page, 4 * page);
      b.protect('none', 4 * page, 4 * page);
      expect(vmasOver(a.address, endA)).toBe(beforeA);
      expect(vmasOver(b.address, endB)).toBe(beforeB + 2);
      expect(a.guardedBytes).toBe(4 * page);
    } finally {
      a.unmap();
      b.unmap();
    }
  });

  it('views over guarded pages are detached and refused; unguard() makes them zero pages again', () => {
    const m = mmap(8 * page);
    const v = m.view(2 * page, page);
    v[0] = 5;
    const other = m.view(6 * page, page);
    m.guard(2 * page, 2 * page);
    expect(v.byteLength).toBe(0);
    expect(other.byteLength).toBe(page);
    expect(() => m.view(3 * page, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(() => m.buffer).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    m.unguard(2 * page, 2 * page);
    expect(m.guardedBytes).toBe(0);
    expect(m.view(2 * page, page)[0]).toBe(0);
    m.unmap();
  });

  it('refused where a buffer over the range escaped (transfer())', () => {
    const r = runChild(`
      const P = pw.pageSize(); const m = pw.mmap(4 * P); const t = m.view().buffer.transfer();
      try { m.guard(0, P); console.log('installed'); } catch (e) { console.log(e.code); }
    `, { nodeArgs: Number(process.versions.node.split('.')[0]) < 21 ? ['--harmony-rab-gsab-transfer'] : [] });
    expect(r.stdout.trim()).toBe('ERR_INVALID_STATE');
  });

  it('a native access to a guard page is SIGSEGV (child, through unsafe.view)', () => {
    const r = runChild(`const P = pw.pageSize(); const m = pw.mmap(4 * P); m.guard(P, P); const v = pw.unsafe.view(m, P, 8); console.log('read', v[0]);`);
    expect(r.signal).toBe('SIGSEGV');
    expect(r.stdout).toBe('');
  });
});

it('guard turned off: ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming Linux 6.13', () => {
  const r = forcedOff('guard', `pw.mmap(4 * pw.pageSize()).guard(0, pw.pageSize())`);
  expect(r.out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Linux 6\.13/) });
});

describe('queryMapping (PROCMAP_QUERY, Linux 6.11+, or /proc/self/maps)', () => {
  it('agrees with /proc/self/maps for the binary, the stack and a mapping; null below the first mapping; next finds the first', () => {
    const m = mmap(4 * page);
    try {
      const maps = readMaps();
      const stack = maps.find((e) => e.pathname === '[stack]')!;
      for (const e of [maps[0]!, stack, maps.find((x) => x.start <= m.address && m.address < x.end)!]) {
        const q = queryMapping(e.start)!;
        expect({ start: q.start, end: q.end, perms: q.perms, inode: q.inode, dev: q.dev }).toEqual({ start: e.start, end: e.end, perms: e.perms, inode: e.inode, dev: e.dev });
        expect(q.name).toBe(e.anonName !== null ? `[anon:${e.anonName}]` : e.pathname);
      }
      expect(queryMapping(0n)).toBeNull();
      expect(queryMapping(0n, { next: true })!.start).toBe(maps[0]!.start);
      expect(queryMapping(m.address)!.source).toBe(kernelHas('procmapQuery') ? 'procmap_query' : 'maps');
    } finally {
      m.unmap();
    }
  });

  it('with the ioctl turned off it parses /proc/self/maps and answers the same', () => {
    const r = runChildWithEnv({ PAGEWISE_FORCE_MISSING: 'procmapQuery' }, `
      const q = pw.queryMapping(0n, { next: true }); console.log(JSON.stringify({ source: q.source, start: String(q.start), name: q.name }));
    `);
    const first = readMaps()[0]!;
    expect(r.out).toEqual({ source: 'maps', start: String(first.start), name: first.pathname });
  });
});

describe('adviseMany', () => {
  it('gives back every range in one process_madvise where the kernel allows it, else one madvise each; residency agrees', () => {
    const m = mmap(64 * page);
    try {
      m.view().fill(1);
      const ranges = Array.from({ length: 16 }, (_, i) => [m, i * 4 * page, 2 * page] as const);
      const r = adviseMany(ranges, 'dontneed');
      expect(r.bytes).toBe(16 * 2 * page);
      expect(r.path).toBe(kernelHas('processMadvise') ? 'process_madvise' : 'madvise');
      expect(r.calls).toBe(r.path === 'process_madvise' ? 1 : 16);
      expect(residency(m, undefined, undefined, { source: 'mincore' }).pages).toBe(32);
      expect(m.view(0, 8)[0]).toBe(0);
      expect(m.view(2 * page, 8)[0]).toBe(1);
    } finally {
      m.unmap();
    }
  });

  it('turned off: one madvise per range, the same effect', () => {
    const r = runChildWithEnv({ PAGEWISE_FORCE_MISSING: 'processMadvise' }, `
      const P = pw.pageSize(); const m = pw.mmap(8 * P); m.view().fill(1);
      const res = pw.adviseMany([[m, 0, P], [m, 4 * P, P]], 'dontneed');
      console.log(JSON.stringify({ ...res, resident: m.residentPages() }));
    `);
    expect(r.out).toEqual({ bytes: 2 * page, path: 'madvise', calls: 2, resident: 6 });
  });

  it('checks every range before any system call', () => {
    const m = mmap(4 * page);
    m.view().fill(1);
    expect(() => adviseMany([[m, 0, page], [m, 1, page]], 'dontneed')).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => adviseMany([[m, 0, page], [{} as never, 0, page]], 'dontneed')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(m.residentPages()).toBe(4);
    m.unmap();
  });
});

describe('MAP_DROPPABLE and memfd_secret', () => {
  it.skipIf(!kernelHas('droppable'))('droppable memory reads back what was written (until the kernel drops it under pressure); only anonymous private', () => {
    const m = mmap(4 * page, { droppable: true });
    m.view().fill(9);
    expect(m.view()[4 * page - 1]).toBe(9);
    m.unmap();
    expect(() => mmap(page, { droppable: true, shared: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('droppable turned off: ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming Linux 6.11', () => {
    const r = forcedOff('droppable', `pw.mmap(pw.pageSize(), { droppable: true })`);
    expect(r.out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Linux 6\.11/) });
  });

  it.skipIf(!kernelHas('secretMemory'))('secretMemory: usable memory, shown as /secretmem in the maps', () => {
    const m = secretMemory(2 * page);
    m.view()[0] = 4;
    expect(m.view()[0]).toBe(4);
    expect(queryMapping(m.address)!.name).toMatch(/secretmem/);
    m.unmap();
  });

  it('secretMemory turned off: the error names secretmem.enable', () => {
    const r = forcedOff('secretMemory', `pw.secretMemory(pw.pageSize())`);
    expect(r.out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/secretmem\.enable=1/) });
  });
});


/** Mappings of every shape maps prints: a file at an offset, a deleted file, shared anonymous memory, protections split. */
function zoo(): { maps: Mapping[]; file: string; lo: bigint; hi: bigint; close(): void } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-maps-')), 'data');
  fs.writeFileSync(file, Buffer.alloc(4 * page, 1));
  const fd = fs.openSync(file, 'r+');
  const gone = `${file}-gone`;
  fs.writeFileSync(gone, Buffer.alloc(page, 2));
  const gfd = fs.openSync(gone, 'r');
  const maps = [mmap(2 * page, { file: { fd, offset: page } }), mmap(page, { file: { fd: gfd } }), mmap(3 * page, { shared: true }), mmap(8 * page)];
  fs.unlinkSync(gone);
  fs.closeSync(fd);
  fs.closeSync(gfd);
  maps[3]!.protect('r', 2 * page, 2 * page).protect('none', 6 * page, page);
  const lo = maps.reduce((a, m) => (m.address < a ? m.address : a), maps[0]!.address);
  const hi = maps.reduce((a, m) => (m.address + BigInt(m.length) > a ? m.address + BigInt(m.length) : a), 0n);
  return { maps, file, lo, hi, close: () => { for (const m of maps) m.unmap(); fs.rmSync(path.dirname(file), { recursive: true }); } };
}

const text = (): ReturnType<typeof parseMaps> => parseMaps(fs.readFileSync('/proc/self/maps', 'utf8'));

/**
 * A listing read entry by entry against the text read just before and just
 * after it, while other threads (V8's, the test runner's) map and unmap: every
 * entry the two texts agree on is in it, field for field, and each of its
 * entries is in one of the texts. Only an entry that changed both before and
 * after it was read could be neither, and a wrong field in any entry fails.
 */
function expectSameEntries<T>(actual: T[], before: T[], after: T[]): void {
  const key = (x: T): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v));
  const got = new Set(actual.map(key));
  const was = new Set(before.map(key));
  const now = new Set(after.map(key));
  const stable = before.filter((e) => now.has(key(e)));
  expect(stable.filter((e) => !got.has(key(e))), 'entries both texts list, missing from the listing').toEqual([]);
  expect(actual.filter((e) => !was.has(key(e)) && !now.has(key(e))), 'entries in the listing that neither text lists').toEqual([]);
  expect(stable.length).toBeGreaterThan(0);
}

describe('readMaps() by PROCMAP_QUERY', () => {
  it.skipIf(!kernelHas('procmapQuery'))('lists the same entries as /proc/self/maps, field for field (ranges, perms, offsets, devices, inodes, names, deleted)', () => {
    const z = zoo();
    try {
      // Another thread (V8's) may map between two reads: the listing agrees with the texts read just before and after it.
      const before = text();
      const byQuery = readMapsByQuery();
      const after = text();
      unlessSanitizer('the whole listing agrees with the texts read just before and after', ASAN.maps, () => expectSameEntries(byQuery, before, after));
      // The zoo is all there, with the shapes maps prints.
      const mine = byQuery.filter((e) => e.start >= z.lo && e.end <= z.hi);
      expect(mine.find((e) => e.start === z.maps[0]!.address)).toMatchObject({ offset: BigInt(page), deleted: false, perms: 'rw-p', inode: fs.statSync(z.file).ino });
      expect(mine.find((e) => e.start === z.maps[1]!.address)).toMatchObject({ deleted: true, pathname: expect.stringMatching(/-gone$/) });
      expect(mine.find((e) => e.start === z.maps[2]!.address)).toMatchObject({ pathname: '/dev/zero', deleted: true, perms: 'rw-s' });
      // The VMAs inside the split mapping (its two ends may merge with neighbouring anonymous memory).
      const at = (k: number): string => { const e = mine.find((x) => x.start === z.maps[3]!.address + BigInt(k * page)); return e ? `${e.perms} ${e.size / page}` : 'none'; };
      expect([at(2), at(4), at(6)]).toEqual(['r--p 2', 'rw-p 2', '---p 1']);
      // A range: one query per mapping in it, exactly the text's entries there.
      const inRange = (l: ReturnType<typeof parseMaps>): ReturnType<typeof parseMaps> => l.filter((e) => e.end > z.lo && e.start < z.hi);
      const before2 = inRange(text());
      const ranged = readMaps('self', { start: z.lo, end: z.hi });
      const after2 = inRange(text());
      unlessSanitizer('the range agrees with the texts read just before and after', ASAN.mmapHole, () => {
        expectSameEntries(ranged, before2, after2);
        // Our own VMAs are all in it (the range may also hold other threads' mappings, which come and go).
        for (const m of z.maps.slice(0, 3)) expect(ranged.some((e) => e.start === m.address)).toBe(true);
        expect(ranged.filter((e) => e.start === z.maps[3]!.address + BigInt(2 * page) || e.start === z.maps[3]!.address + BigInt(6 * page)).map((e) => e.perms)).toEqual(['r--p', '---p']);
      });
    } finally {
      z.close();
    }
  });

  it('with the ioctl turned off, a range parses the text and gives the same entries', () => {
    const r = runChildWithEnv({ PAGEWISE_FORCE_MISSING: 'procmapQuery' }, `
      const P = pw.pageSize(); const m = pw.mmap(6 * P); m.protect('r', 2 * P, 2 * P);
      const lo = m.address, hi = m.address + BigInt(6 * P);
      const inRange = () => pw.parseMaps(require('fs').readFileSync('/proc/self/maps', 'utf8')).filter((e) => e.end > lo && e.start < hi);
      // Other threads map memory beside ours between the reads, and an outer VMA that merges with a neighbour
      // changes its bounds (and, merged from below, its offset): compare what lies inside [lo, hi), which is ours,
      // and the offset only of the read-only middle, which cannot merge.
      const clip = (e) => ({ start: e.start < lo ? lo : e.start, end: e.end > hi ? hi : e.end, perms: e.perms, dev: e.dev, inode: e.inode, pathname: e.pathname, offset: e.start === lo + BigInt(2 * P) ? e.offset : null });
      const key = (x) => JSON.stringify(x.map(clip), (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
      const before = key(inRange()); const got = pw.readMaps('self', { start: lo, end: hi }); const after = key(inRange());
      const inner = got.find((e) => e.start === lo + BigInt(2 * P));
      console.log(JSON.stringify({ has: pw.kernelHas('procmapQuery'), same: key(got) === before || key(got) === after, n: got.length, inner: inner.perms + inner.size / P, source: pw.queryMapping(lo).source, ...(key(got) === before || key(got) === after ? {} : { before, got: key(got), after }) }));
    `);
    // The outer VMAs may have merged with neighbouring anonymous memory; the read-only middle cannot.
    // On failure the three clipped listings are printed beside it.
    expect(r.out).toMatchObject({ has: false, same: true, n: 3, inner: 'r--p2', source: 'maps' });
  });

  it('checks its options before reading', () => {
    expect(() => readMaps('self', { start: 1 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => readMaps('self', { begin: 0n } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe.skipIf(!kernelHas('guard') || qemu)('guard pages reported (PAGEMAP_SCAN PAGE_IS_GUARD, Linux 6.15+)', () => {
  it.skipIf(!kernelHas('guardReport'))('residency() counts exactly the guard pages installed, by every source; explain() per VMA and in total', () => {
    const m = mmap(16 * page);
    try {
      m.view().fill(1);
      m.guard(2 * page, 2 * page).guard(9 * page, page);
      for (const source of ['mincore', 'pagemap', 'pagemap_scan'] as const) {
        expect(residency(m, undefined, undefined, { source }).guard).toBe(3);
      }
      expect(residency(m, 0, 3 * page).guard).toBe(1);
      expect(residency(m, 4 * page, 4 * page).guard).toBe(0);
      const s = explain({ detail: true });
      const rows = s.vmas!.filter((v) => v.start < m.address + BigInt(16 * page) && m.address < v.end);
      expect(rows.length).toBe(1); // guards cost no VMA
      expect(rows[0]!.guardPages).toBe(3);
      expect(s.totals.guardPages).toBe(s.vmas!.reduce((a, v) => a + v.guardPages!, 0));
      m.unguard(2 * page, 2 * page);
      expect(residency(m).guard).toBe(1);
    } finally {
      m.unmap();
    }
  });

  it.skipIf(!kernelHas('guardReport'))('residency() scans for guard pages only where pagewise installed some, or when asked', () => {
    const m = mmap(16 * page);
    const n = mmap(16 * page);
    try {
      m.view().fill(1);
      n.view().fill(1);
      m.guard(2 * page, page);
      for (const source of ['mincore', 'pagemap', 'pagemap_scan'] as const) {
        // The same result with or without the scan where none can be.
        expect(residency(n, undefined, undefined, { source })).toEqual(residency(n, undefined, undefined, { source, guard: true }));
        expect(residency(n, undefined, undefined, { source }).guard).toBe(0);
        expect(residency(m, undefined, undefined, { source }).guard).toBe(1);
        expect(residency(m, undefined, undefined, { source, guard: false }).guard).toBeNull();
      }
      // A guard page installed behind pagewise's back (a raw madvise, here
      // the lab binary's C loop) is found when asked for.
      cbench.cbenchMadvise(n, 5 * page, 2 * page, native.newmmConstants.MADV_GUARD_INSTALL, 1);
      expect(residency(n, undefined, undefined, { guard: true }).guard).toBe(2);
      expect(residency(n).guard).toBe(0);
      // Removing guards keeps the region scanned (the record is sticky): still exact.
      m.unguard(2 * page, page);
      expect(residency(m, undefined, undefined, { source: 'mincore' }).guard).toBe(0);
      expect(() => residency(m, undefined, undefined, { guard: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    } finally {
      m.unmap();
      n.unmap();
    }
  });

  it('turned off: guard is null (unknown), never 0, in residency and explain', () => {
    const r = runChildWithEnv({ PAGEWISE_FORCE_MISSING: 'guardReport' }, `
      const P = pw.pageSize(); const m = pw.mmap(4 * P); m.guard(P, P);
      const s = pw.explain({ detail: true });
      console.log(JSON.stringify({ res: pw.residency(m).guard, total: s.totals.guardPages, row: s.vmas.find((v) => v.start <= m.address && m.address < v.end).guardPages }));
    `);
    expect(r.out).toEqual({ res: null, total: null, row: null });
  });
});

describe.skipIf(!kernelHas('mseal'))('sealed mappings in explain (smaps VmFlags sl)', () => {
  it('marks the sealed VMA and counts it in the totals', () => {
    const before = explain().totals;
    // Shared: its own /dev/zero object, so the sealed VMA cannot merge with another sealed one.
    const m = mmap(3 * page, { prot: 'r', shared: true });
    const other = mmap(page);
    m.seal();
    const s = explain({ detail: true });
    const row = (a: bigint): { sealed: boolean; start: bigint; end: bigint } => s.vmas!.find((v) => v.start <= a && a < v.end)!;
    expect(row(m.address)).toMatchObject({ sealed: true, start: m.address, end: m.address + BigInt(3 * page) });
    expect(row(other.address).sealed).toBe(false);
    expect(s.totals.sealedVmas).toBe(before.sealedVmas + 1);
    expect(s.totals.sealedBytes).toBe(before.sealedBytes + 3 * page);
    expect(s.totals.sealedVmas).toBe(s.vmas!.filter((v) => v.sealed).length);
    other.unmap();
  });
});

describe('memoryMerge (PR_SET_MEMORY_MERGE, Linux 6.4 with CONFIG_KSM)', () => {
  it.skipIf(!kernelHas('memoryMerge'))('sets, reads back and unsets the process-wide KSM opt-in; ksm_stat agrees (child)', () => {
    const r = runChildWithEnv({}, `
      const a = pw.memoryMergeEnabled(); const on = pw.memoryMerge(true); const b = pw.memoryMergeEnabled(); const k = pw.ksmStat();
      const off = pw.memoryMerge(false); const c = pw.memoryMergeEnabled(); const k2 = pw.ksmStat();
      console.log(JSON.stringify({ a, on, b, anyOn: k && k.mergeAny, off, c, anyOff: k2 && k2.mergeAny }));
    `);
    const hasLine = ksmStat()?.mergeAny !== null && ksmStat() !== null;
    expect(r.out).toEqual({ a: false, on: true, b: true, anyOn: hasLine ? true : null, off: false, c: false, anyOff: hasLine ? false : null });
  });

  it('refuses a non-boolean before any system call', () => {
    expect(() => memoryMerge(1 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('turned off: ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming Linux 6.4 and CONFIG_KSM, for both calls', () => {
    expect(forcedOff('memoryMerge', `pw.memoryMerge(true)`).out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Linux 6\.4 .*CONFIG_KSM/) });
    expect(forcedOff('memoryMerge', `pw.memoryMergeEnabled()`).out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Linux 6\.4/) });
  });
});
