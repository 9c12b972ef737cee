import { describe, expect, it } from 'vitest';
import { mmap, pageSize, adviceSupported, getrusage } from '../lib/index';
import { ifMeasurable, unmeasurable } from './helpers/emulation';
import { ASAN, unlessSanitizer } from './helpers/sanitizer';

const page = pageSize();
const GiB = 1024 * 1024 * 1024;

// Every test here reads mincore over 1 GiB: where mincore does not answer per page of this size (qemu-user at 16K guest pages on 4K host pages) it also writes past its vector.
describe.skipIf(unmeasurable('mincore', 'mincore over a 1 GiB mapping'))('a 1 GiB MAP_NORESERVE mapping', () => {
  it('has no resident page until written, then exactly the pages written', () => {
    const m = mmap(GiB, { noReserve: true });
    try {
      m.advise('nohugepage');
      expect(m.residentPages()).toBe(0);
      const k = 37;
      const v = m.view(0, 100 * page);
      for (let i = 0; i < k; i++) v[i * 2 * page] = 0xab;
      expect(m.residentPages()).toBe(k);
      const vec = m.residencyVector(0, 2 * k * page);
      for (let i = 0; i < 2 * k; i++) expect(vec[i]! & 1).toBe(i % 2 === 0 ? 1 : 0);
    } finally {
      m.unmap();
    }
  });

  it('MADV_DONTNEED returns to 0 resident pages and reads back zeros', () => {
    const m = mmap(GiB, { noReserve: true });
    try {
      m.advise('nohugepage');
      const k = 16;
      const v = m.view(0, k * page);
      v.fill(0x5a);
      expect(m.residentPages()).toBe(k);
      m.advise('dontneed', 0, k * page);
      expect(m.residentPages()).toBe(0);
      expect(v.every((b) => b === 0)).toBe(true);
    } finally {
      m.unmap();
    }
  });

  it('MADV_FREE differs: lazy, each page reads back the old pattern or zeros', () => {
    if (!adviceSupported('free')) return void console.log('skipped: MADV_FREE unsupported by this kernel');
    const m = mmap(64 * page, {});
    try {
      m.advise('nohugepage');
      const k = 16;
      const v = m.view(0, k * page);
      v.fill(0x77);
      m.advise('free', 0, k * page);
      // Without memory pressure nothing is reclaimed yet: RSS holds (unlike
      // DONTNEED, which drops it at once). Under pressure a page may become
      // zero; it never holds anything else.
      let kept = 0;
      for (let i = 0; i < k; i++) {
        const p = v.subarray(i * page, (i + 1) * page);
        const pattern = p.every((b) => b === 0x77);
        const zero = p.every((b) => b === 0);
        expect(pattern || zero).toBe(true);
        if (pattern) kept++;
      }
      expect(m.residentPages(0, k * page)).toBe(kept);
    } finally {
      m.unmap();
    }
  });

  it('MADV_POPULATE_WRITE makes every page resident without a fault per page from JS', () => {
    if (!adviceSupported('populate_write')) return void console.log('skipped: MADV_POPULATE_WRITE needs Linux 5.14+');
    const n = 512;
    const m = mmap(n * page, { noReserve: true });
    try {
      m.advise('nohugepage');
      expect(m.residentPages()).toBe(0);
      m.advise('populate_write');
      ifMeasurable('populateWrite', 'MADV_POPULATE_WRITE residency', () => expect(m.residentPages()).toBe(n));
    } finally {
      m.unmap();
    }
  });

  it('counts exactly k minor faults on this thread for k first writes', () => {
    const k = 100;
    const trial = (): number => {
      const m = mmap(256 * page, { noReserve: true });
      try {
        m.advise('nohugepage');
        const v = m.view();
        // Warm the loop and getrusage on already-resident memory first.
        v[255 * page] = 1;
        for (let round = 0; round < 3; round++) getrusage('thread');
        const before = getrusage('thread').minorFaults;
        for (let i = 0; i < k; i++) v[i * page] = 1;
        return getrusage('thread').minorFaults - before;
      } finally {
        m.unmap();
      }
    };
    // The runtime (V8; under qemu-user the emulator too) can add a stray fault
    // of its own on this thread, never take one away: the fewest of up to 3
    // trials on fresh pages must be exactly k.
    let faults = trial();
    for (let t = 1; t < 3 && faults !== k; t++) faults = Math.min(faults, trial());
    unlessSanitizer('RUSAGE_THREAD fault count', ASAN.faults, () =>
      // forkChildFaults: where an emulator's own faults land on the thread (they come and go here).
      ifMeasurable(['rusageFaultsLong', 'forkChildFaults'], 'RUSAGE_THREAD fault count', () => expect(faults).toBe(k)),
    );
  });

  it('MAP_POPULATE prefaults the whole mapping', () => {
    const m = mmap(64 * page, { populate: true });
    try {
      ifMeasurable('mapPopulate', 'MAP_POPULATE residency', () => expect(m.residentPages()).toBe(64));
    } finally {
      m.unmap();
    }
  });
});
