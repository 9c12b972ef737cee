/**
 * lib/kernel/pagemap.ts and lib/kernel/facts.ts: the pagemap bit layout decoded
 * on constructed entries and read from a fresh mapping; each fact checked
 * against the /proc parser that reads the same file.
 */
import { describe, expect, it } from 'vitest';
import { mmap, pageSize, readMeminfo, readOvercommit, readThp, residency } from '../lib/index';
import { decodePagemapEntry, readPagemap, PM_EXCLUSIVE, PM_FILE, PM_PFN_MASK, PM_PRESENT, PM_SOFT_DIRTY, PM_SWAP } from '../lib/kernel/pagemap';
import { hugePageSize, hugetlbDefaultSize, meminfoBytes, perfEventParanoid, thpMode, thpSetting, vmSysctl } from '../lib/kernel/facts';
import { ifMeasurable } from './helpers/emulation';

describe('pagemap bits', () => {
  it('decodes each flag and the PFN field on its own', () => {
    expect(decodePagemapEntry(0n)).toEqual({ present: false, swapped: false, file: false, exclusive: false, softDirty: false, pfn: 0n });
    const all = PM_PRESENT | PM_SWAP | PM_FILE | PM_EXCLUSIVE | PM_SOFT_DIRTY | 0x1234n;
    expect(decodePagemapEntry(all)).toEqual({ present: true, swapped: true, file: true, exclusive: true, softDirty: true, pfn: 0x1234n });
    expect(decodePagemapEntry(PM_EXCLUSIVE)).toMatchObject({ exclusive: true, present: false, softDirty: false });
    expect(decodePagemapEntry((1n << 64n) - 1n).pfn).toBe(PM_PFN_MASK);
    expect([PM_SOFT_DIRTY, PM_EXCLUSIVE, PM_FILE, PM_SWAP, PM_PRESENT]).toEqual([1n << 55n, 1n << 56n, 1n << 61n, 1n << 62n, 1n << 63n]);
  });

  it('reads a fresh mapping: the written pages present and exclusive, the others absent', () => {
    const page = pageSize();
    const m = mmap(4 * page);
    try {
      try {
        m.advise('nohugepage'); // no multi-size THP filling the neighbours
      } catch {
        // a kernel without THP
      }
      m.view()[0] = 1;
      m.view()[2 * page] = 1;
      const entries = [...readPagemap(m.address, 4)].map(decodePagemapEntry);
      ifMeasurable('pagemap', 'pagemap entries of written pages', () => {
        expect(entries.map((e) => e.present)).toEqual([true, false, true, false]);
        expect(entries.map((e) => e.exclusive)).toEqual([true, false, true, false]);
        expect(entries.filter((e) => e.present).length).toBe(residency(m, 0, undefined, { source: 'pagemap' }).present);
      });
    } finally {
      m.unmap();
    }
  });
});

describe('kernel facts', () => {
  it('agree with the parsers of the same files', () => {
    const mi = readMeminfo();
    expect(meminfoBytes('MemTotal')).toBe(mi.MemTotal);
    expect(hugetlbDefaultSize()).toBe(mi.Hugepagesize ?? null);
    expect(meminfoBytes('NoSuchField')).toBe(null);
    const thp = readThp();
    expect(thpMode()).toBe(thp.mode);
    expect(thpSetting('defrag')).toBe(thp.defrag);
    expect(hugePageSize()).toBe(thp.hpagePmdSize);
    const oc = readOvercommit();
    expect(vmSysctl('max_map_count')).toBe(oc.maxMapCount);
    expect(vmSysctl('overcommit_memory')).toBe(oc.overcommitMemory);
    expect(vmSysctl('no_such_sysctl')).toBe(null);
    expect(perfEventParanoid()).toMatch(/^(-?\d+|unreadable)$/);
  });
});
