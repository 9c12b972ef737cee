/**
 * Mapping.guard() (MADV_GUARD_INSTALL, Linux 6.13+) and guard pages as the
 * kernel reports them (PAGEMAP_SCAN PAGE_IS_GUARD, 6.15+); the clean failure
 * where the kernel lacks them (the probe turned off in a child).
 */
import { describe, expect, it } from 'vitest';
import { explain, kernelHas, mmap, pageSize, readSmaps, residency } from '../lib/index';
import { cbench } from '../lib/bench/cnative';
import { native } from '../lib/native/binding';
import { ROOT, runChild } from './helpers/child';
import * as path from 'node:path';
import { forcedOff, runChildWithEnv, vmasOver } from './helpers/features';
import { underEmulation } from './helpers/emulation';

const page = pageSize();
const qemu = underEmulation().qemu;

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
      cbench.cbenchMadvise(n, 5 * page, 2 * page, native.uapiConstants.MADV_GUARD_INSTALL, 1);
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

  it.skipIf(!kernelHas('guardReport'))('explain() finds guard pages installed behind pagewise\'s back, the same with the VmFlags gu probe and without it', () => {
    // A raw madvise (not Mapping.guard): only the kernel knows of these guards.
    const code = `
      const { native } = require(${JSON.stringify(path.join(ROOT, 'dist', 'lib', 'native', 'binding.js'))});
      const P = pw.pageSize(); const m = pw.mmap(8 * P); new Uint8Array(m.buffer).fill(1);
      native.madvise(m.region, 2 * P, 3 * P, native.uapiConstants.MADV_GUARD_INSTALL);
      const s = pw.explain({ detail: true });
      const rows = s.vmas.filter((v) => v.start < m.address + BigInt(8 * P) && m.address < v.end);
      console.log(JSON.stringify({ flag: pw.kernelHas('guardFlag'), rows: rows.map((v) => v.guardPages), sum: s.vmas.reduce((a, v) => a + v.guardPages, 0), total: s.totals.guardPages }));
    `;
    const on = runChildWithEnv({ PAGEWISE_FORCE_MISSING: '' }, code).out;
    const off = runChildWithEnv({ PAGEWISE_FORCE_MISSING: 'guardFlag' }, code).out;
    expect(off.flag).toBe(false);
    expect(on.flag).toBe(kernelHas('guardFlag'));
    for (const r of [on, off]) {
      expect(r.rows).toEqual([3]);
      expect(r.total).toBe(r.sum);
    }
    expect(on.total).toBe(off.total);
  });

  it.skipIf(!kernelHas('guardFlag'))('where the probe says so, smaps flags gu on the VMA with guard pages', () => {
    // (The flag means "may hold guard pages": a VMA that merged with a flagged one keeps it, so its absence elsewhere is not asserted.)
    const m = mmap(4 * page, { name: 'pw-guard-flag' });
    try {
      m.guard(page, page);
      expect(readSmaps().find((e) => e.start <= m.address && m.address < e.end)!.vmFlags).toContain('gu');
    } finally {
      m.unmap();
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
