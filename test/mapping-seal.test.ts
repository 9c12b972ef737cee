/**
 * Mapping.seal() (mseal, Linux 6.10+): where the kernel has it, and the clean
 * failure where it does not (the probe turned off in a child); sealed
 * mappings as explain() shows them.
 */
import { describe, expect, it } from 'vitest';
import { explain, kernelHas, mmap, pageSize } from '../lib/index';
import { runChild } from './helpers/child';
import { forcedOff } from './helpers/features';

const page = pageSize();

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
