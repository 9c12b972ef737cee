/**
 * trimMalloc, peakRss/resetPeakRss and transparentHugePages on the real
 * kernel. Each runs in a child process: the THP policy is the whole
 * process's, and malloc's holes and the peak RSS are clean only in a process
 * that does nothing else.
 */
import { describe, expect, it } from 'vitest';
import { peakRss, resetPeakRss, transparentHugePages, trimMalloc, kernelHas } from '../lib/index';
import { native } from '../lib/native/binding';
import { runChild } from './helpers/child';
import { underEmulation, unmeasurable } from './helpers/emulation';
import { ASAN, sanitizerSkips, unlessSanitizer } from './helpers/sanitizer';

function child(code: string, env: Record<string, string> = {}): unknown {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const r = runChild(`${code}`, { nodeArgs: ['--expose-gc'] });
    if (r.status !== 0) throw new Error(`child failed (${r.status} ${r.signal}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  } finally {
    process.env = saved;
  }
}

describe('trimMalloc', () => {
  it('reports malloc_trim with statm RSS and mallinfo2 figures before and after', () => {
    const r = trimMalloc();
    expect(typeof r.trimmed).toBe('boolean');
    expect(r.source).toBe('statm');
    expect(r.released).toBe(r.rssBefore - r.rssAfter);
    if (native.mallinfo2() !== null) {
      expect(r.freeBefore).toBeGreaterThanOrEqual(0);
      unlessSanitizer('mallinfo2 heap bytes', ASAN.allocator, () => expect(r.heapAfter).toBeGreaterThan(0));
    }
  });

  it.skipIf(unmeasurable('smapsRss', 'RSS of a child') || sanitizerSkips('trimMalloc of glibc holes', ASAN.allocator))('gives back the whole free pages of holes malloc keeps (a quiet child)', () => {
    // 4000 blocks of 48 KiB (under the 128 KiB mmap threshold: inside malloc's heaps), 9 in 10 freed in runs:
    // holes of whole pages that malloc keeps until trimmed.
    const r = child(`
      let b = []; for (let i = 0; i < 4000; i++) b.push(Buffer.allocUnsafeSlow(48 * 1024).fill(1));
      b = b.filter((_, i) => i % 10 === 0); globalThis.gc(); globalThis.gc();
      console.log(JSON.stringify(pw.trimMalloc()));`) as { trimmed: boolean; released: number; freeBefore: number | null };
    expect(r.trimmed).toBe(true);
    expect(r.freeBefore).toBeGreaterThan(100 * 1024 * 1024);
    // At least half of the 3600 freed blocks' whole pages came back (the rest: malloc's own pads and other threads).
    expect(r.released).toBeGreaterThan(0.5 * 3600 * 44 * 1024);
  });
});

describe('peakRss and resetPeakRss', () => {
  it('reads VmHWM >= VmRSS and says why there is no cgroup peak where there is none', () => {
    const p = peakRss();
    expect(p.vmHwm).toBeGreaterThanOrEqual(p.vmRss - 64 * native.pageSize());
    if (p.cgroup === null) expect(p.cgroupNote).not.toBe('');
    else expect(p.cgroup.peak).toBeGreaterThan(0);
  });

  it.skipIf(unmeasurable('smapsRss', 'VmHWM of a child') || sanitizerSkips('VmHWM of a child', ASAN.rss))('a reset drops a past peak; a phase that touches N pages raises VmHWM by about N pages again, also when they were given back with MADV_DONTNEED', () => {
    const r = child(`
      const page = pw.pageSize(), N = 4000, st = () => pw.readStatus();
      const big = pw.mmap(N * page); big.advise('nohugepage'); big.view().fill(1); big.unmap();
      const peak0 = st().vmHwm;
      const reset = pw.resetPeakRss();
      const afterReset = st();
      const m = pw.mmap(N * page); m.advise('nohugepage'); m.view().fill(1); m.advise('dontneed'); m.unmap();
      const after = pw.peakRss();
      console.log(JSON.stringify({ page, N, peak0, reset, afterReset: afterReset.vmHwm, rssAtReset: afterReset.vmRss, after }));`) as {
      page: number; N: number; peak0: number; afterReset: number; rssAtReset: number; after: { vmHwm: number; vmRss: number };
    };
    const pages = (b: number): number => b / r.page;
    // The reset set VmHWM to the RSS of that moment: the 4000-page peak is gone from it.
    expect(pages(r.peak0 - r.afterReset)).toBeGreaterThan(0.9 * r.N);
    // The phase's peak is in VmHWM although the pages were given back before it was read.
    expect(pages(r.after.vmHwm - r.rssAtReset)).toBeGreaterThan(0.9 * r.N);
    expect(pages(r.after.vmHwm - r.after.vmRss)).toBeGreaterThan(0.9 * r.N);
  });
});

// qemu-user answers prctl for itself: PR_SET_THP_DISABLE may not reach the kernel for the guest.
const qemu = underEmulation().qemu;
if (qemu) console.warn(`[skipped test] transparentHugePages set/read back: emulated (${underEmulation().qemuDetail})`);

describe('transparentHugePages', () => {
  it.skipIf(qemu)('sets and reads back default, never and advised (where the kernel has it) in a child', () => {
    const r = child(`
      const out = { start: pw.transparentHugePages() };
      out.never = pw.transparentHugePages({ mode: 'never' });
      try { out.advised = pw.transparentHugePages({ mode: 'advised' }); } catch (e) { out.advised = { code: e.code, message: e.message }; }
      out.default = pw.transparentHugePages({ mode: 'default' });
      console.log(JSON.stringify(out));`) as Record<string, { mode?: string; thpEnabled?: boolean | null; code?: string; message?: string }>;
    expect(r.start!.mode).toBe('default');
    expect(r.never).toMatchObject({ mode: 'never' });
    if (r.never!.thpEnabled !== null) expect(r.never!.thpEnabled).toBe(false);
    expect(r.default).toMatchObject({ mode: 'default' });
    if (r.default!.thpEnabled !== null) expect(r.default!.thpEnabled).toBe(true);
    if (kernelHas('thpExceptAdvised')) {
      expect(r.advised).toMatchObject({ mode: 'advised' });
      // Advised ranges may still get huge pages: THP_enabled stays 1.
      if (r.advised!.thpEnabled !== null) expect(r.advised!.thpEnabled).toBe(true);
    } else {
      expect(r.advised).toMatchObject({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' });
      expect(r.advised!.message).toContain('6.18');
    }
  });

  it.skipIf(qemu || unmeasurable('smapsRss', 'AnonHugePages of smaps'))("'never' gives no huge page even to a range advised with MADV_HUGEPAGE; 'advised' leaves advised ranges to the system's THP (child)", () => {
    const r = child(`
      const out = {};
      for (const mode of ['never', ${kernelHas('thpExceptAdvised') ? "'advised', " : ''}'default']) {
        pw.transparentHugePages({ mode });
        const m = pw.mmap(16 << 20); m.advise('hugepage'); m.view().fill(1);
        out[mode] = pw.readSmaps().filter((e) => e.start < m.address + BigInt(m.length) && m.address < e.end).reduce((n, e) => n + e.anonHugePages, 0);
        m.unmap();
      }
      console.log(JSON.stringify(out));`) as Record<string, number>;
    expect(r.never).toBe(0);
    // Where huge pages come at all (THP not 'never', a 2 MiB page free), 'advised' gets them like 'default': not asserted, the allocation may fail.
    console.log(`[THP] AnonHugePages of a 16 MiB MADV_HUGEPAGE range: ${JSON.stringify(r)}`);
  });

  it("'advised' on a kernel without it (PAGEWISE_FORCE_MISSING) throws ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming 6.18 and changes nothing", () => {
    const r = child(`
      let err = null; try { pw.transparentHugePages({ mode: 'advised' }); } catch (e) { err = { code: e.code, message: e.message }; }
      console.log(JSON.stringify({ err, after: pw.transparentHugePages() }));`, { PAGEWISE_FORCE_MISSING: 'thpExceptAdvised' }) as {
      err: { code: string; message: string }; after: { mode: string };
    };
    expect(r.err.code).toBe('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM');
    expect(r.err.message).toContain('Linux 6.18');
    expect(r.after.mode).toBe('default');
  });

  it('reading the state changes nothing; bad options throw before any prctl', () => {
    const before = transparentHugePages();
    expect(['default', 'never', 'advised']).toContain(before.mode);
    expect(() => transparentHugePages({ mode: 'always' as never })).toThrowError(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => transparentHugePages({ mode: 1 as never })).toThrowError(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => transparentHugePages({ mod: 'never' } as never)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => transparentHugePages('never' as never)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(transparentHugePages().mode).toBe(before.mode);
  });

  it('resetPeakRss in this process returns the VmHWM it set', () => {
    const r = resetPeakRss();
    expect(r.vmHwm).toBeGreaterThan(0);
    expect(typeof r.cgroup).toBe('boolean');
  });
});
