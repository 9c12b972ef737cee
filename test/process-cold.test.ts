/**
 * trackWrites/coldPages/reclaim on real memory: exact page counts from
 * PAGEMAP_SCAN over userfaultfd async write-protect, contents kept by
 * reclaim, and the refusals.
 */
import { describe, expect, it } from 'vitest';
import { coldPages, kernelHas, mmap, pageSize, readMeminfo, reclaim, trackWrites } from '../lib/index';
import { native } from '../lib/native/binding';
import { runChild } from './helpers/child';

const page = pageSize();

describe.skipIf(!kernelHas('writeTracking'))('coldPages after trackWrites (userfaultfd write-protect, PAGEMAP_SCAN)', () => {
  it('lists exactly the resident pages not written since the mark; reads do not count; reset marks again', () => {
    const n = 64;
    const m = mmap(n * page);
    try {
      m.advise('nohugepage');
      const v = m.view();
      v.fill(1);
      const t = trackWrites(m);
      const written = [3, 7, 8, 40];
      for (const i of written) v[i * page + 1] = 2;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += v[i * page + 5]!;
      expect(sum).toBe(n);
      const c = coldPages(m, { since: t });
      expect(c.writtenPages).toBe(written.length);
      expect(c.coldPages).toBe(n - written.length);
      expect(c.coldBytes).toBe((n - written.length) * page);
      // Runs: [0,3) [4,7) [9,40) [41,64)
      expect(c.ranges.map((r) => [Number(r.address - m.address) / page, r.length / page])).toEqual([[0, 3], [4, 3], [9, 31], [41, 23]]);
      // Asking again changes nothing; a reset scan reports the same and marks again.
      expect(coldPages(m, { since: t, reset: true }).writtenPages).toBe(written.length);
      expect(coldPages(m, { since: t }).writtenPages).toBe(0);
      v[10 * page] = 9;
      expect(coldPages(m, { since: t }).writtenPages).toBe(1);
      t.close();
      t.close();
      v[11 * page] = 9; // writes go on after close
      expect(() => coldPages(m, { since: t })).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    } finally {
      m.unmap();
    }
  });

  it('pages never touched are not listed (they hold no memory)', () => {
    const m = mmap(16 * page);
    try {
      m.advise('nohugepage');
      const v = m.view();
      for (let i = 0; i < 16; i += 2) v[i * page] = 1;
      const t = trackWrites(m);
      const c = coldPages(m, { since: t });
      expect(c.coldPages + c.writtenPages).toBe(8);
      expect(c.coldPages).toBe(8);
      t.close();
    } finally {
      m.unmap();
    }
  });

  it('an ArrayBuffer: its whole pages are tracked', () => {
    const ab = new ArrayBuffer(41 * page);
    const u = new Uint8Array(ab);
    u.fill(1);
    const t = trackWrites(u);
    const pages = Number(t.end - t.start) / page;
    expect(pages).toBeGreaterThanOrEqual(40);
    u[Number(t.start - native.arrayBufferInfo(ab)![0]) + 2 * page] = 5;
    const c = coldPages(ab, { since: t });
    expect(c.writtenPages).toBe(1);
    expect(c.coldPages).toBe(pages - 1);
    t.close();
  });

  it.skipIf(!kernelHas('processMadvise'))('reclaim hands the cold runs to process_madvise in one call; contents stay; without swap the pages stay resident', () => {
    const n = 48;
    const m = mmap(n * page);
    try {
      m.advise('nohugepage');
      const v = m.view();
      for (let i = 0; i < n * page; i += 64) v[i] = (i / 64) % 255;
      const t = trackWrites(m);
      for (let i = 0; i < n; i += 3) v[i * page] = v[i * page]!; // written back: same value
      const c = coldPages(m, { since: t });
      expect(c.coldPages).toBe(n - 16);
      for (const advice of ['cold', 'pageout'] as const) {
        const r = reclaim(c, advice);
        expect(r.bytes).toBe(c.coldBytes);
        expect(r.calls).toBe(1);
        expect(r.residentBefore).toBe(n - 16);
        const swap = readMeminfo()['SwapTotal'];
        if (advice === 'cold' || swap === 0) expect(r.residentAfter).toBe(r.residentBefore);
        else expect(r.residentAfter).toBeLessThanOrEqual(r.residentBefore);
      }
      for (let i = 0; i < n * page; i += 64) if (v[i] !== (i / 64) % 255) throw new Error(`byte ${i} changed`);
      t.close();
    } finally {
      m.unmap();
    }
  });
});

describe.skipIf(!kernelHas('softDirty'))('the soft-dirty fallback (clear_refs 4, pagemap bit 55), forced in a child', () => {
  it('lists exactly the present pages not written since the mark', () => {
    const saved = process.env.PAGEWISE_FORCE_MISSING;
    process.env.PAGEWISE_FORCE_MISSING = 'writeTracking';
    try {
      const r = runChild(`
        const page = pw.pageSize(), m = pw.mmap(32 * page); m.advise('nohugepage'); const v = m.view(); v.fill(1);
        const t = pw.trackWrites(m); v[5 * page] = 2; v[6 * page] = 2;
        const c = pw.coldPages(m, { since: t, reset: true }); const d = pw.coldPages(m, { since: t });
        console.log(JSON.stringify({ method: t.method, cold: c.coldPages, written: c.writtenPages, runs: c.ranges.length, after: d.writtenPages }));`);
      expect(JSON.parse(r.stdout.trim())).toEqual({ method: 'soft-dirty', cold: 30, written: 2, runs: 2, after: 0 });
    } finally {
      if (saved === undefined) delete process.env.PAGEWISE_FORCE_MISSING;
      else process.env.PAGEWISE_FORCE_MISSING = saved;
    }
  });
});

describe('refusals and bad input', () => {
  it('trackWrites refuses a file or shared mapping, an unmapped one, and less than a page', () => {
    const s = mmap(4 * page, { shared: true });
    expect(() => trackWrites(s)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    s.unmap();
    expect(() => trackWrites(s)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(() => trackWrites(new Uint8Array(new ArrayBuffer(page + 1), 1, page - 1))).toThrowError(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => trackWrites(42 as never)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it.skipIf(!kernelHas('writeTracking'))('a second tracker over the same pages fails EBUSY (one userfaultfd per range)', () => {
    const m = mmap(4 * page);
    try {
      const t = trackWrites(m);
      expect(() => trackWrites(m)).toThrowError(expect.objectContaining({ code: 'EBUSY', syscall: 'ioctl' }));
      t.close();
      trackWrites(m).close();
    } finally {
      m.unmap();
    }
  });

  it('coldPages needs a tracker covering the range; reclaim checks ranges and advice before any call', () => {
    const m = mmap(4 * page);
    try {
      expect(() => coldPages(m, undefined as never)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      expect(() => coldPages(m, { since: {} as never })).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      if (kernelHas('writeTracking')) {
        const other = mmap(4 * page);
        const t = trackWrites(other);
        expect(() => coldPages(m, { since: t })).toThrowError(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
        t.close();
        other.unmap();
      }
      expect(() => reclaim([], 'dontneed' as never)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      expect(() => reclaim({} as never, 'cold')).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      expect(() => reclaim([{ address: m.address + 1n, length: page }], 'cold')).toThrowError(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => reclaim([{ address: m.address, length: page + 1 }], 'cold')).toThrowError(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => reclaim([{ address: 1, length: page } as never], 'cold')).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      expect(reclaim([], 'pageout')).toMatchObject({ bytes: 0, calls: 0 });
    } finally {
      m.unmap();
    }
  });

  it('without the kernel features (PAGEWISE_FORCE_MISSING) trackWrites and reclaim throw ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', () => {
    const saved = process.env.PAGEWISE_FORCE_MISSING;
    process.env.PAGEWISE_FORCE_MISSING = 'writeTracking,softDirty';
    try {
      const r = runChild(`const m = pw.mmap(4 * pw.pageSize()); try { pw.trackWrites(m); console.log('none'); } catch (e) { console.log(e.code, /6\\.7/.test(e.message)); }`);
      expect(r.stdout.trim()).toBe('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM true');
      process.env.PAGEWISE_FORCE_MISSING = 'processMadvise';
      const q = runChild(`const m = pw.mmap(4 * pw.pageSize()); m.view().fill(1); try { pw.reclaim([{ address: m.address, length: pw.pageSize() }], 'cold'); console.log('none'); } catch (e) { console.log(e.code); }`);
      expect(q.stdout.trim()).toBe('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM');
    } finally {
      if (saved === undefined) delete process.env.PAGEWISE_FORCE_MISSING;
      else process.env.PAGEWISE_FORCE_MISSING = saved;
    }
  });
});
