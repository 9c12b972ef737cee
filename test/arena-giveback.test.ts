/**
 * Arena under real workloads (issue 15): page-granular give-back inside
 * slabs, retention with a bound and decay, reset({ keep: true }), and
 * stats() from counters. Residency is checked two ways: the arena's own
 * stats({ resident: true }) (mincore) and, independently, the kernel's smaps
 * Rss of the arena's range. Every arena uses hugePages: false, so a touched
 * page is one resident base page whatever the THP mode.
 */
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Arena } from '../lib/arena';
import { pageSize } from '../lib/kernel/system';
import { kernelHas } from '../lib/kernel/features';
import { native } from '../lib/native/binding';
import { readSmaps } from '../lib/kernel/smaps';
import { underEmulation, unmeasurable } from './helpers/emulation';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIST, runChild } from './helpers/child';
import { HANG_GUARD_MS } from './helpers/child';

const page = pageSize();
const MiB = 2 ** 20;

/** Rss of the arena's range from /proc/self/smaps (the kernel's page-table walk). */
function smapsRss(a: Arena, reserve: number): number {
  const lo = a.address;
  const hi = lo + BigInt(reserve);
  return readSmaps().filter((e) => e.start < hi && e.end > lo).reduce((n, e) => n + e.rss, 0);
}

/** The pages (numbers) that hold at least one byte of a live block. */
function livePages(a: Arena, views: Uint8Array[]): Set<bigint> {
  const pages = new Set<bigint>();
  const P = BigInt(page);
  for (const v of views) {
    const at = a.addressOf(v);
    for (let p = at / P; p <= (at + BigInt(v.length) - 1n) / P; p++) pages.add(p);
  }
  return pages;
}

describe.skipIf(unmeasurable(['mincore', 'smapsRss'], 'Arena give-back (resident pages, exactly)'))('Arena: give-back inside slabs', () => {
  const patterns: [string, (i: number, perSlab: number) => boolean][] = [
    ['every other block', (i) => i % 2 === 0],
    ['one block per slab', (i, perSlab) => i % perSlab === 0],
    ['one block in 64', (i) => i % 64 === 0],
  ];
  for (const size of [16, 64, 1000, 3000, page]) {
    for (const [name, keep] of patterns) {
      it(`${size}-byte blocks, ${name} kept: after purge() resident pages = pages holding a live block, exactly`, () => {
        const reserve = 256 * MiB;
        using a = new Arena({ reserve, chunkSize: MiB, hugePages: false, decay: false });
        const slabBytes = Math.max(64 * 1024, page);
        const n = Math.floor((8 * MiB) / size);
        const all: Uint8Array[] = [];
        for (let i = 0; i < n; i++) all.push(a.alloc(size).fill(1));
        const classSize = Number(Object.keys(a.stats().freeBytesByClass).find((k) => k !== 'pages') ?? size);
        const perSlab = Math.floor(slabBytes / classSize);
        const live: Uint8Array[] = [];
        for (let i = 0; i < n; i++) {
          if (keep(i, perSlab)) live.push(all[i]!);
          else a.free(all[i]!);
        }
        const before = a.stats({ resident: true }).resident;
        const purged = a.purge();
        const after = a.stats({ resident: true });
        const expected = livePages(a, live).size * page;
        expect(after.resident).toBe(expected);
        expect(smapsRss(a, reserve)).toBe(expected);
        // purge() returns the bytes it advised: every one of them was a
        // written (resident) page, so exactly what stopped being resident.
        expect(purged).toBe(before - expected);
        expect(after.retained).toBe(0);
        for (const v of live) expect(v.every((b) => b === 1)).toBe(true);
        // Purged pages are handed out again and written like any other.
        const again: Uint8Array[] = [];
        for (let i = 0; i < 1000; i++) again.push(a.alloc(size).fill(2));
        for (const v of again) expect(v.every((b) => b === 2)).toBe(true);
        for (const v of live) expect(v.every((b) => b === 1)).toBe(true);
      });
    }
  }

  it('retained counts a slab page once no live block touches it, and only then', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false, decay: false });
    const per = page / 64;
    const blocks = Array.from({ length: 3 * per }, () => a.alloc(64).fill(1));
    expect(a.stats().retained).toBe(0);
    for (let i = 0; i < per - 1; i++) a.free(blocks[i]!); // page 0: one block left
    expect(a.stats().retained).toBe(0);
    a.free(blocks[per - 1]!); // page 0 now free
    expect(a.stats().retained).toBe(page);
    a.alloc(64); // reuses a block of page 0: in use again
    expect(a.stats().retained).toBe(0);
  });
});

describe.skipIf(unmeasurable(['mincore'], 'Arena retention (resident pages)'))('Arena: retention, decay and reset({ keep: true })', () => {
  it('a freed written block is reused without faulting its pages again', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: false });
    const v = a.alloc(MiB).fill(1);
    a.free(v);
    expect(a.stats().retained).toBe(MiB);
    const f0 = a.stats().threadFaults;
    let kept = 0; // pages that still held the last round's bytes when reused
    for (let i = 0; i < 20; i++) {
      const w = a.alloc(MiB);
      for (let p = 0; p < MiB; p += page) if (w[p] === (i === 0 ? 1 : 2 + ((i - 1) % 2))) kept++;
      a.free(w.fill(2 + (i % 2)));
    }
    const f1 = a.stats().threadFaults;
    // Exact: every round got the same pages back with what the last round wrote (a page
    // given back would read zero), so none was faulted in again.
    expect(kept).toBe(20 * (MiB / page));
    // Twenty rounds over given-back pages would fault 20 MiB of pages again (one round's
    // block alone: MiB / page faults); V8, and the sanitizer's allocator under ASan, fault
    // pages of their own on this thread meanwhile (98 seen in an ASan run on a loaded host).
    expect(f1 - f0).toBeLessThan(MiB / page);
    expect(a.stats({ resident: true }).resident).toBe(MiB);
  });

  it('the retain bound: a free past it gives its own pages back at once', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: false, retain: 2 * MiB });
    const blocks = Array.from({ length: 6 }, () => a.alloc(MiB).fill(1));
    for (const b of blocks) a.free(b);
    const s = a.stats({ resident: true });
    expect(s.retained).toBe(2 * MiB);
    expect(s.resident).toBe(2 * MiB);
    expect(s.allocated).toBe(0);
  });

  it('a burst of frees past the bound goes back when the burst ends (a microtask), before an allocation takes pages, or at stats()', async () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: false, retain: 0 });
    const reserve = 64 * MiB;
    const blocks = Array.from({ length: 12 }, () => a.alloc(16 * page).fill(1));
    const keep = a.alloc(3 * page).fill(3);
    for (let i = 0; i < blocks.length; i += 2) a.free(blocks[i]!);
    // Still resident: the give-back is queued (smaps reads the kernel's page tables; it does not flush).
    expect(smapsRss(a, reserve)).toBe((12 * 16 + 3) * page);
    await null; // the microtask queued by the first free has run
    expect(smapsRss(a, reserve)).toBe((6 * 16 + 3) * page);
    // In one synchronous stretch: free, then an allocation that takes the same pages; they were given back first.
    for (let i = 1; i < blocks.length; i += 2) a.free(blocks[i]!);
    const again = a.allocZeroed(16 * page);
    // Given back before it was taken: known zero, so allocZeroed wrote nothing and nothing is resident.
    expect(smapsRss(a, reserve)).toBe(3 * page);
    expect(again.every((x) => x === 0)).toBe(true);
    a.free(again);
    expect(a.stats({ resident: true }).resident).toBe(3 * page); // stats() gives back what is queued first
    expect(smapsRss(a, reserve)).toBe(3 * page);
    expect(keep.every((x) => x === 3)).toBe(true);
  });

  it('a realloc that grows in place into a block freed in the same burst keeps what is written there', async () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: false, retain: 0 });
    const first = a.alloc(4 * page).fill(1);
    const next = a.alloc(4 * page).fill(2);
    expect(a.addressOf(next)).toBe(a.addressOf(first) + BigInt(4 * page));
    a.free(next); // queued for give-back
    const grown = a.realloc(first, 8 * page);
    expect(a.addressOf(grown)).toBe(a.addressOf(first) + 0n); // in place, over next's pages
    grown.fill(7, 4 * page);
    await null; // the burst's microtask has run
    expect(grown.subarray(0, 4 * page).every((x) => x === 1)).toBe(true);
    expect(grown.subarray(4 * page).every((x) => x === 7)).toBe(true);
  });

  it('decay gives back pages left unused for a whole period; decay: false keeps them', async () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: 20 });
    using b = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: false });
    const keep = a.alloc(3 * page).fill(3);
    a.free(a.alloc(MiB).fill(1));
    b.free(b.alloc(MiB).fill(1));
    expect(a.stats().retained).toBe(MiB);
    // Wait for the timer (it needs the event loop); no timing is asserted.
    for (let i = 0; i < 500 && a.stats().retained > 0; i++) await sleep(10);
    expect(a.stats().retained).toBe(0);
    expect(a.stats({ resident: true }).resident).toBe(3 * page);
    expect(keep.every((x) => x === 3)).toBe(true);
    expect(b.stats().retained).toBe(MiB);
    expect(b.stats({ resident: true }).resident).toBe(MiB);
  });

  it('a dropped arena with a decay timer is still collected (the timer holds it weakly)', async () => {
    const r = runChild(
      `(async () => {
        let a = new pw.Arena({ reserve: 2 ** 26, hugePages: false, decay: 10 });
        const addr = a.address;
        a.free(a.alloc(2 ** 20).fill(1));
        a = null;
        const mapped = () => require('fs').readFileSync('/proc/self/maps', 'utf8').includes(addr.toString(16) + '-');
        for (let i = 0; i < 10; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
        console.log(JSON.stringify({ mapped: mapped() }));
      })();`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ mapped: false });
  });

  it('reset({ keep: true }) detaches every view and keeps the pages resident for the next round', () => {
    using a = new Arena({ reserve: 256 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: false });
    const round = (): Uint8Array[] => {
      const views: Uint8Array[] = [];
      for (let i = 0; i < 256; i++) views.push(a.alloc(64 * 1024).fill(1));
      return views;
    };
    const first = round();
    const resident = a.stats({ resident: true }).resident;
    expect(resident).toBe(256 * 64 * 1024);
    a.reset({ keep: true });
    for (const v of first) expect(v.length).toBe(0);
    const s = a.stats({ resident: true });
    expect(s.resident).toBe(resident);
    expect(s.allocated).toBe(0);
    expect(s.retained).toBe(s.committed);
    const f0 = a.stats().threadFaults;
    round();
    expect(a.stats().threadFaults - f0).toBeLessThan(resident / page / 4);
    expect(a.stats({ resident: true }).resident).toBe(resident);
    expect(() => a.reset({ keep: true, decommit: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.reset({ keep: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    a.reset();
    expect(a.stats({ resident: true }).resident).toBe(0);
  });
});


/**
 * `strace -f -o` output as one line per call: a call that another thread's
 * call interrupted ("PID name(args <unfinished ...>") is joined with its rest
 * ("PID <... name resumed>) = result"), at the place where it started.
 */
function straceCalls(text: string): string[] {
  const out: string[] = [];
  const open = new Map<string, number>();
  for (const line of text.split('\n')) {
    const u = /^(\d+) (.*) <unfinished \.\.\.>$/.exec(line);
    if (u) {
      open.set(u[1]!, out.length);
      out.push(`${u[1]} ${u[2]}`);
      continue;
    }
    const r = /^(\d+) <\.\.\. \w+ resumed>(.*)$/.exec(line);
    const k = r ? open.get(r[1]!) : undefined;
    if (r && k !== undefined) {
      out[k] = out[k]! + r[2]!;
      open.delete(r[1]!);
      continue;
    }
    out.push(line);
  }
  return out;
}
describe('Arena: stats() from counters', () => {
  it('resident and mappings are measured only when read (or asked for)', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
    a.alloc(100).fill(1);
    const s = a.stats();
    expect(typeof Object.getOwnPropertyDescriptor(s, 'resident')!.get).toBe('function');
    expect(typeof Object.getOwnPropertyDescriptor(s, 'mappings')!.get).toBe('function');
    expect(s.resident).toBe(page); // measured now
    expect(Object.getOwnPropertyDescriptor(s, 'resident')!.value).toBe(page); // and kept
    const eager = a.stats({ resident: true });
    expect(Object.getOwnPropertyDescriptor(eager, 'resident')!.value).toBe(page);
    expect(eager.mappings).toBe(2);
    // One process_madvise per purge where this kernel allows MADV_DONTNEED through it (6.13+).
    expect(eager.giveBack).toBe(kernelHas('processMadvise') && native.processMadviseProbe(native.constants.MADV_DONTNEED!) === 0 ? 'process_madvise' : 'madvise');
    expect(() => a.stats({ resident: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('the counters match a walk of the blocks', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false, decay: false });
    const slabBytes = Math.max(64 * 1024, page);
    const v = [a.alloc(64), a.alloc(64), a.alloc(64), a.alloc(100), a.alloc(5 * page)];
    let s = a.stats();
    expect(s.allocated).toBe(3 * 64 + 112 + 5 * page);
    expect(s.freeBytesByClass['64']).toBe(slabBytes - 3 * 64);
    expect(s.freeBytesByClass['112']).toBe(Math.floor(slabBytes / 112) * 112 - 112);
    expect(s.freeBytesByClass.pages).toBe(s.committed - 2 * slabBytes - 5 * page);
    // One view per live block: 112 bytes of JS heap each (a large block's
    // ArrayBuffer object 80 more).
    const big = a.alloc(2 * MiB);
    expect(a.stats().viewBytes).toBe(5 * 112 + 112 + 80);
    a.free(big);
    expect(a.stats().viewBytes).toBe(5 * 112);
    for (const x of v) a.free(x);
    s = a.stats();
    expect(s.allocated).toBe(0);
    expect(s.viewBytes).toBe(0);
    a.purge();
    s = a.stats();
    expect(s.freeBytesByClass).toEqual({ pages: s.committed });
    expect(s.bookkeepingBytes).toBeGreaterThan(0);
  });

  it('purge() with no handle block live lets go of the handle bookkeeping that grew with the peak; handles work again after', () => {
    for (const handleGenerations of [false, true]) {
      using a = new Arena({ reserve: 64 * MiB, hugePages: false, decay: false, handleGenerations });
      const slabBytes = Math.max(64 * 1024, page);
      const slabs = 20;
      const n = (slabs * slabBytes) / 16;
      const hs: number[] = [];
      for (let i = 0; i < n; i++) hs.push(a.allocHandle(16));
      for (const h of hs) a.freeHandle(h);
      const before = a.stats().bookkeepingBytes;
      a.purge();
      const after = a.stats().bookkeepingBytes;
      // At least each slab's bitmap (one bit per 16-byte slot) went.
      expect(before - after, `handleGenerations ${handleGenerations}`).toBeGreaterThanOrEqual(slabs * (slabBytes / 16 / 8));
      expect(() => a.freeHandle(hs[0]!)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      const h = a.allocHandle(16);
      const big = a.allocHandle(3 * page);
      a.bytes(h)[15] = 7;
      a.bytes(big)[3 * page - 1] = 9;
      expect(a.bytes(h)[15]).toBe(7);
      expect(a.bytes(big)[3 * page - 1]).toBe(9);
      expect(a.stats()).toMatchObject({ handles: 2, allocated: 16 + 3 * page });
      a.freeHandle(h);
      a.freeHandle(big);
      expect(a.stats()).toMatchObject({ handles: 0, allocated: 0 });
    }
  });
});

describe('Arena: a steady state makes no system call', () => {
  const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  // Not under qemu-user: strace would see the emulator's calls, at host addresses.
  const traced = !underEmulation().qemu && strace.status === 0 && spawnSync('strace', ['-f', '-o', '/dev/null', 'true']).status === 0;
  it.skipIf(!traced)('alloc/free of every block kind, once warmed up: no mmap/mprotect/madvise on the arena (strace)', () => {
    const script = `
      const pw = require(${JSON.stringify(DIST)});
      const a = new pw.Arena({ reserve: 2 ** 30, hugePages: false });
      const sizes = [16, 64, 100, 3000, 5000, 20000, 100000, 300000, 2 ** 20];
      const live = sizes.map((n) => a.alloc(n));
      const round = () => { for (let i = 0; i < sizes.length; i++) { a.free(live[i]); live[i] = a.alloc(sizes[i]); live[i][0] = 1; } };
      for (let r = 0; r < 1000; r++) round();
      process._rawDebug('MARK-START ' + a.address.toString(16));
      for (let r = 0; r < 20000; r++) round();
      process._rawDebug('MARK-END');`;
    const out = path.join(os.tmpdir(), `pagewise-strace-${process.pid}.txt`);
    const r = spawnSync('strace', ['-f', '-e', 'trace=write,mmap,munmap,mprotect,madvise,process_madvise', '-o', out, process.execPath, '-e', script], { encoding: 'utf8', timeout: HANG_GUARD_MS });
    expect(r.status).toBe(0);
    const lines = straceCalls(fs.readFileSync(out, 'utf8'));
    fs.unlinkSync(out);
    const start = lines.findIndex((l) => l.includes('MARK-START'));
    const end = lines.findIndex((l) => l.includes('MARK-END'));
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const lo = BigInt(`0x${/MARK-START ([0-9a-f]+)/.exec(lines[start]!)![1]}`);
    const hi = lo + 2n ** 30n;
    // Calls on the arena's range between the marks (V8 and glibc make their own elsewhere).
    const onArena = lines.slice(start, end).filter((l) => {
      const m = /\b(mmap|munmap|mprotect|madvise|process_madvise)\((0x[0-9a-f]+)/.exec(l);
      return m !== null && BigInt(m[2]!) >= lo && BigInt(m[2]!) < hi;
    });
    expect(onArena).toEqual([]);
  });

  for (const forced of [false, true]) it.skipIf(!traced)(`a burst of 300 frees past the bound: one process_madvise where the kernel allows it, else one madvise each, after the burst (strace${forced ? ', process_madvise turned off' : ''})`, () => {
    const script = `
      const pw = require(${JSON.stringify(DIST)});
      const a = new pw.Arena({ reserve: 2 ** 30, hugePages: false, retain: 0, decay: false });
      const blocks = []; for (let i = 0; i < 600; i++) blocks.push(a.alloc(5 * pw.pageSize()).fill(1));
      const batched = a.stats().giveBack;
      process._rawDebug('MARK-START ' + a.address.toString(16) + ' ' + batched);
      for (let i = 0; i < 600; i += 2) a.free(blocks[i]);
      process._rawDebug('MARK-FREED');
      queueMicrotask(() => process._rawDebug('MARK-END'));`;
    const out = path.join(os.tmpdir(), `pagewise-strace-burst-${process.pid}.txt`);
    const r = spawnSync('strace', ['-f', '-s', '80', '-e', 'trace=write,madvise,process_madvise', '-o', out, process.execPath, '-e', script], {
      encoding: 'utf8', timeout: HANG_GUARD_MS, env: { ...process.env, PAGEWISE_FORCE_MISSING: forced ? 'processMadvise' : '' },
    });
    expect(r.status).toBe(0);
    const lines = straceCalls(fs.readFileSync(out, 'utf8'));
    fs.unlinkSync(out);
    const at = (mark: string) => lines.findIndex((l) => l.includes(mark));
    const [start, freed, end] = [at('MARK-START'), at('MARK-FREED'), at('MARK-END')];
    expect(start).toBeGreaterThan(-1);
    expect(freed).toBeGreaterThan(start);
    expect(end).toBeGreaterThan(freed);
    const [, addr, mode] = /MARK-START ([0-9a-f]+) (\w+)/.exec(lines[start]!)!;
    const lo = BigInt(`0x${addr}`);
    const calls = (from: number, to: number) => lines.slice(from, to).filter((l) => {
      if (/\bprocess_madvise\(/.test(l)) return true;
      const m = /\bmadvise\((0x[0-9a-f]+)/.exec(l);
      return m !== null && BigInt(m[1]!) >= lo && BigInt(m[1]!) < lo + 2n ** 30n;
    });
    // Nothing while the frees run; then the whole burst at once.
    expect(calls(start, freed)).toEqual([]);
    const after = calls(freed, end);
    if (forced || !kernelHas('processMadvise')) expect(mode).toBe('madvise');
    if (mode === 'process_madvise') {
      expect(after).toHaveLength(1);
      // 300 stretches of 5 pages, every byte given back (the return value is the bytes advised).
      expect(after[0]).toMatch(new RegExp(`process_madvise\\(.*, 300, MADV_DONTNEED, 0\\) += ${300 * 5 * page}$`));
    } else {
      expect(after).toHaveLength(300);
    }
  });
});
