/** adviseMany(): many ranges advised with one process_madvise where the kernel allows it, else one madvise each. */
import { describe, expect, it } from 'vitest';
import { adviseMany, kernelHas, mmap, pageSize, residency } from '../lib/index';
import { runChildWithEnv } from './helpers/features';

const page = pageSize();

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
