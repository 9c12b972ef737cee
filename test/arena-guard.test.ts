/**
 * The arena's `guardPages` option (issue 18): guard pages (MADV_GUARD_INSTALL,
 * Linux 6.13+) after every block served by page runs. They cost no kernel
 * mapping, no view or buffer the arena makes covers one, a native overrun
 * past a block is SIGSEGV instead of a write into its neighbour, and the
 * arena's accounting stays exact through alloc, free, realloc, purge and
 * reset. On a kernel without guard regions (forced with
 * PAGEWISE_FORCE_MISSING) the constructor refuses with an error naming
 * Linux 6.13.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Arena, kernelHas, pageSize } from '../lib/index';
import { DIST, HANG_GUARD_MS } from './helpers/child';
import { underEmulation } from './helpers/emulation';
import { rng } from '../lib/bench/arena-suite';

const page = pageSize();
const MiB = 2 ** 20;
const hasGuard = kernelHas('guard') && !underEmulation().qemu;

/**
 * Runs `code` in a child where `region` is the arena's reservation: the
 * child wraps the binding's `mmap` before the package loads (the arena
 * captures the native calls at load), so it can hand the region to the C
 * touch loop of the lab binary (`cbenchTouch`, lib/native/lab.ts), which
 * writes from native code at the address it is given.
 */
function runWithRegion(code: string, env: Record<string, string> = {}): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const nativePath = path.join(path.dirname(DIST), 'native', 'binding.js');
  const script = `
    const { native } = require(${JSON.stringify(nativePath)});
    const mmap = native.mmap;
    let region = null;
    native.mmap = (...a) => (region = mmap(...a));
    const pw = require(${JSON.stringify(DIST)});
    ${code}`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: HANG_GUARD_MS, env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Lines of /proc/self/maps that overlap the arena's reservation. */
function regionMappings(a: Arena): number {
  return a.stats({ resident: true }).mappings;
}

describe('Arena guardPages: options', () => {
  it('refuses a guardPages that is not a boolean or an integer in [0, 1024], before any system call', () => {
    expect(() => new Arena({ guardPages: 'yes' as unknown as number })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Arena({ guardPages: 1n as unknown as number })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    for (const bad of [-1, 1.5, 1025, NaN, Infinity]) {
      expect(() => new Arena({ guardPages: bad })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    }
  });

  it('guardPages: 0 and false make an arena without guards, on any kernel', () => {
    for (const off of [0, false]) {
      const a = new Arena({ reserve: 16 * MiB, guardPages: off, hugePages: false });
      const v = a.alloc(MiB);
      expect(a.stats().guardBytes).toBe(0);
      a.free(v);
      a.close();
    }
  });

  it('guard regions turned off (PAGEWISE_FORCE_MISSING=guard): the constructor throws ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming Linux 6.13; without guardPages the arena works', () => {
    const r = runWithRegion(
      `const out = {};
       try { new pw.Arena({ guardPages: true }); out.made = true; } catch (e) { out.code = e.code; out.message = e.message; }
       const a = new pw.Arena({ reserve: 16 << 20 }); a.free(a.alloc(1 << 20)); out.plain = a.stats().guardBytes; a.close();
       console.log(JSON.stringify(out));`,
      { PAGEWISE_FORCE_MISSING: 'guard' },
    );
    expect(r.signal).toBe(null);
    expect(JSON.parse(r.stdout.trim())).toEqual({
      code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
      message: expect.stringMatching(/guard is not available here: it needs Linux 6\.13 .*PAGEWISE_FORCE_MISSING/),
      plain: 0,
    });
  });
});

describe.skipIf(!hasGuard)('Arena guardPages (MADV_GUARD_INSTALL, Linux 6.13+)', () => {
  it('puts exactly the asked pages between page-run blocks; every block has its own buffer over exactly its pages', () => {
    for (const g of [1, 3]) {
      const a = new Arena({ reserve: 64 * MiB, guardPages: g === 1 ? true : g, hugePages: false, decay: false });
      const big1 = a.alloc(MiB);
      const big2 = a.alloc(MiB);
      const mid = a.alloc(5 * page + 1);
      const small = a.alloc(64);
      expect(a.addressOf(big2) - a.addressOf(big1)).toBe(BigInt(MiB + g * page));
      expect(a.addressOf(mid) - a.addressOf(big2)).toBe(BigInt(MiB + g * page));
      for (const v of [big1, big2, mid]) {
        expect(v.byteOffset).toBe(0);
        expect(v.buffer.byteLength).toBe(a.sizeOf(v));
      }
      expect(a.sizeOf(mid)).toBe(6 * page);
      const s = a.stats();
      expect(s.guardBytes).toBe(3 * g * page);
      // Small blocks come from slabs: no guard for them.
      expect(s.allocated).toBe(2 * MiB + 6 * page + a.sizeOf(small));
      a.free(big1);
      expect(a.stats().guardBytes).toBe(2 * g * page);
      a.close();
    }
  });

  it('guards cost no kernel mapping: the reservation has as many VMAs with 200 guarded blocks as without guards', () => {
    const counts: number[] = [];
    for (const guardPages of [false, true]) {
      const a = new Arena({ reserve: 512 * MiB, guardPages, hugePages: false, decay: false });
      const before = regionMappings(a);
      const views: Uint8Array[] = [];
      for (let i = 0; i < 100; i++) views.push(a.alloc(MiB), a.alloc(3 * page));
      for (const v of views) v.fill(7);
      const after = regionMappings(a);
      expect(a.stats().guardBytes).toBe(guardPages ? 200 * page : 0);
      counts.push(before, after);
      a.close();
    }
    expect(counts[2]).toBe(counts[0]);
    expect(counts[3]).toBe(counts[1]);
  });

  it('guard pages are never resident, and the accounting is exact: committed = allocated + free pages + guards', () => {
    const a = new Arena({ reserve: 64 * MiB, guardPages: 2, hugePages: false, decay: false, retain: 0 });
    const views = [a.alloc(MiB), a.alloc(MiB), a.alloc(8 * page)];
    for (const v of views) v.fill(1);
    const s = a.stats({ resident: true });
    expect(s.guardBytes).toBe(6 * page);
    expect(s.allocated + s.freeBytesByClass.pages! + s.guardBytes).toBe(s.committed);
    expect(s.resident).toBe(2 * MiB + 8 * page);
    a.free(views[1]!);
    const t = a.stats({ resident: true });
    expect(t.guardBytes).toBe(4 * page);
    expect(t.allocated + t.freeBytesByClass.pages! + t.guardBytes).toBe(t.committed);
    expect(t.resident).toBe(MiB + 8 * page);
    a.close();
  });

  it('realloc moves the guard to the new end when the block grows in place; sizeOf excludes the guard', () => {
    const a = new Arena({ reserve: 64 * MiB, guardPages: true, hugePages: false, decay: false });
    const v = a.alloc(MiB);
    v.fill(5);
    const at = a.addressOf(v);
    const w = a.realloc(v, MiB + 3 * page);
    expect(a.addressOf(w)).toBe(at);
    expect(v.length).toBe(0);
    expect(a.sizeOf(w)).toBe(MiB + 3 * page);
    expect(w.buffer.byteLength).toBe(MiB + 3 * page);
    expect(w[MiB - 1]).toBe(5);
    // The old guard page is the block's now, and reads as zero.
    expect(w[MiB]).toBe(0);
    w.fill(6);
    expect(a.stats().guardBytes).toBe(page);
    const next = a.alloc(MiB);
    expect(a.addressOf(next) - at).toBe(BigInt(MiB + 4 * page));
    // Shrinking stays in place and keeps the guard where it is.
    const x = a.realloc(w, 10);
    expect(a.addressOf(x)).toBe(at);
    expect(a.sizeOf(x)).toBe(MiB + 3 * page);
    expect(a.stats().guardBytes).toBe(2 * page);
    a.close();
  });

  it('prefault() steps over live guard pages; reset() (purging, keep or decommit) removes every guard', () => {
    for (const mode of ['purge', 'keep', 'decommit'] as const) {
      const a = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, guardPages: true, hugePages: false, decay: false });
      const views = [a.alloc(MiB), a.alloc(MiB), a.alloc(MiB)];
      a.prefault(8 * MiB);
      const s = a.stats({ resident: true });
      expect(s.resident).toBe(8 * MiB - 3 * page);
      a.reset(mode === 'purge' ? undefined : { [mode]: true });
      for (const v of views) expect(v.length).toBe(0);
      expect(a.stats().guardBytes).toBe(0);
      // The pages that were guards are ordinary memory again.
      const big = a.alloc(3 * MiB + 2 * page);
      big.fill(9);
      expect(big[big.length - 1]).toBe(9);
      a.close();
    }
  });

  it('random alloc/free/realloc/purge/reset with guards keeps every block intact and the accounting exact', () => {
    const random = rng(0x6a7d);
    const a = new Arena({ reserve: 1024 * MiB, guardPages: 2, hugePages: false, decay: false, retain: 8 * MiB });
    type Live = { view: Uint8Array; size: number; byte: number };
    let live: Live[] = [];
    const baseline = regionMappings(a);
    let maxMappings = baseline;
    const size = (): number => {
      const r = random();
      if (r < 0.3) return 1 + Math.floor(random() * 8192);
      if (r < 0.8) return 8193 + Math.floor(random() * 256 * 1024);
      return 256 * 1024 + Math.floor(random() * 3 * MiB);
    };
    const check = (b: Live): void => {
      expect(b.view.length).toBe(b.size);
      if (b.size > 0) {
        expect(b.view[0]).toBe(b.byte);
        expect(b.view[b.size - 1]).toBe(b.byte);
      }
    };
    // A page-run block has its own buffer over exactly its pages; a slab block shares its slab's.
    const guarded = (): number => live.filter((b) => b.view.buffer.byteLength === a.sizeOf(b.view)).length;
    for (let step = 0; step < 3000; step++) {
      const r = random();
      if (live.length > 0 && (r < 0.35 || live.length > 150)) {
        const i = Math.floor(random() * live.length);
        const b = live[i]!;
        live[i] = live[live.length - 1]!;
        live.pop();
        check(b);
        a.free(b.view);
      } else if (live.length > 0 && r < 0.5) {
        const b = live[Math.floor(random() * live.length)]!;
        check(b);
        const n = size();
        b.view = a.realloc(b.view, n);
        const keep = Math.min(n, b.size);
        if (keep > 0) expect(b.view[keep - 1]).toBe(b.byte);
        b.size = n;
        b.view.fill(b.byte);
      } else if (r < 0.995) {
        const n = size();
        const view = a.alloc(n);
        const b = { view, size: n, byte: 1 + Math.floor(random() * 255) };
        view.fill(b.byte);
        live.push(b);
      } else if (r < 0.998) {
        a.purge();
      } else {
        a.reset(random() < 0.5 ? { decommit: true } : random() < 0.5 ? { keep: true } : undefined);
        for (const b of live) expect(b.view.length).toBe(0);
        live = [];
      }
      if (step % 100 === 0) {
        for (const b of live) check(b);
        const s = a.stats({ resident: true });
        maxMappings = Math.max(maxMappings, s.mappings);
        // Every live page-run block (above the small-block limit) has its guard, nothing else does.
        expect(s.guardBytes).toBe(guarded() * 2 * page);
      }
    }
    for (const b of live) {
      check(b);
      a.free(b.view);
    }
    const end = a.stats({ resident: true });
    expect(end.allocated).toBe(0);
    expect(end.guardBytes).toBe(0);
    a.purge();
    const purged = a.stats({ resident: true });
    expect(purged.freeBytesByClass).toEqual({ pages: purged.committed });
    expect(purged.resident).toBe(0);
    // Guards never split the reservation: at most the PROT_NONE rest and the committed part.
    expect(maxMappings).toBeLessThanOrEqual(2);
    a.close();
  });

  it('a freed block whose buffer moved out with transfer() is set aside: the next block and its guard go elsewhere; nothing crashes (child)', () => {
    // On by default from Node 21; Node 20 has it behind a V8 flag.
    const flags = Number(process.versions.node.split('.')[0]) < 21 ? ['--harmony-rab-gsab-transfer'] : [];
    const code = `
      const P = pw.pageSize();
      const a = new pw.Arena({ reserve: 64 << 20, guardPages: true, hugePages: false });
      const v = a.alloc(1 << 20); v.fill(1);
      const keep = a.alloc(1 << 20); keep.fill(7);
      const tAt = a.addressOf(v);
      const t = v.buffer.transfer();
      a.free(v);
      const out = {};
      let n;
      try { n = a.alloc(16 * P); n.fill(3); out.made = true; } catch (e) { out.code = e.code; }
      // The new block (and its guard page) is outside the freed block's pages, which the moved buffer still reaches.
      const nAt = a.addressOf(n);
      out.apart = nAt + BigInt(17 * P) <= tAt || nAt >= tAt + BigInt(1 << 20) + BigInt(P);
      out.guardBytes = a.stats().guardBytes;
      const u = new Uint8Array(t); u.fill(5);
      out.moved = u[0] + u[u.length - 1];
      out.keep = keep[0] + keep[keep.length - 1];
      out.fresh = n[0] + n[n.length - 1];
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, [...flags, '-e', `const pw = require(${JSON.stringify(DIST)});\n${code}`], { encoding: 'utf8', timeout: HANG_GUARD_MS });
    expect(r.signal).toBe(null);
    // Guards: keep's, the set-aside block's (still installed) and the new block's.
    expect(JSON.parse(r.stdout.trim())).toEqual({ made: true, apart: true, guardBytes: 3 * page, moved: 10, keep: 14, fresh: 6 });
  });

  it('a native write one byte past a large block is SIGSEGV with guards, and lands in the next block without (child, C touch loop)', () => {
    const code = (guard: boolean): string => `
      const a = new pw.Arena({ reserve: 64 << 20, guardPages: ${guard}, hugePages: false });
      const b1 = a.alloc(1 << 20); const b2 = a.alloc(1 << 20);
      b1.fill(1); b2.fill(2);
      const base = native.regionAddress(region);
      const past = Number(a.addressOf(b1) - base) + (1 << 20);
      console.log(JSON.stringify({ gap: Number(a.addressOf(b2) - a.addressOf(b1)) }));
      require(${JSON.stringify(path.join(path.dirname(DIST), 'native', 'lab.js'))}).nativeLab().cbenchTouch(base + BigInt(past), 1, 1);
      console.log(JSON.stringify({ wrote: true, neighbour: b2[0] }));`;
    const without = runWithRegion(code(false));
    expect(without.signal).toBe(null);
    expect(without.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ gap: MiB }, { wrote: true, neighbour: 1 }]);
    const guarded = runWithRegion(code(true));
    expect(guarded.signal).toBe('SIGSEGV');
    expect(guarded.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ gap: MiB + page }]);
  });
});
