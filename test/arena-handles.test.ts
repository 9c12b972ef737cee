/**
 * Arena by handle: numbers instead of views (lib/arena/handles.ts).
 * Refusals are checked for their code and for leaving the metadata as it
 * was (a twin arena that never saw the refused calls hands out the same
 * handles); residency is counted with mincore over the arena's own range.
 * Every arena uses `hugePages: false`, so one touched page is one base page.
 */
import { describe, expect, it } from 'vitest';
import * as buffer from 'node:buffer';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Arena } from '../lib/arena';
import { discard } from '../lib/index';
import { pageSize } from '../lib/kernel/system';
import { underEmulation } from './helpers/emulation';
import { DIST, HANG_GUARD_MS } from './helpers/child';

const page = pageSize();
const MiB = 2 ** 20;
const slabBytes = Math.max(64 * 1024, page);
const VALUE = expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' });
const TYPE = expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' });
const STATE = expect.objectContaining({ code: 'ERR_INVALID_STATE' });

function arena(options: ConstructorParameters<typeof Arena>[0] = {}): Arena {
  return new Arena({ reserve: 256 * MiB, chunkSize: MiB, hugePages: false, decay: false, ...options });
}

describe('Arena by handle: blocks are numbers', () => {
  it('allocHandle returns byte offsets into heap and data, 16-byte aligned, not overlapping; sizeOfHandle gives the usable size', () => {
    using a = arena();
    const sizes = [0, 1, 16, 17, 64, 100, 1000, 8000, 9000, 3 * page + 1, MiB];
    const hs = sizes.map((n) => a.allocHandle(n));
    for (const h of hs) {
      expect(Number.isInteger(h)).toBe(true);
      expect(h % 16).toBe(0);
    }
    const spans = hs.map((h, i) => [h, h + a.sizeOfHandle(h)] as const).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    hs.forEach((h, i) => expect(a.sizeOfHandle(h)).toBeGreaterThanOrEqual(Math.max(16, sizes[i]!)));
    expect(a.sizeOfHandle(hs[4]!)).toBe(64);
    expect(a.sizeOfHandle(hs[9]!)).toBe(4 * page); // whole pages above the small classes
    // Each block written through heap, read back through data and bytes().
    const heap = a.heap;
    hs.forEach((h, i) => heap.fill(i + 1, h, h + Math.max(1, sizes[i]!)));
    hs.forEach((h, i) => {
      expect(a.data.getUint8(h)).toBe(i + 1);
      const w = a.bytes(h);
      expect(w.length).toBe(a.sizeOfHandle(h));
      expect(w[Math.max(1, sizes[i]!) - 1]).toBe(i + 1);
      expect(a.bytes(h, 3).length).toBe(3);
    });
    expect(a.stats().handles).toBe(sizes.length);
    expect(a.stats().allocated).toBe(hs.reduce((s, h) => s + a.sizeOfHandle(h), 0));
    expect(() => a.bytes(hs[4]!, 65)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    for (const h of hs) a.freeHandle(h);
    expect(a.stats().allocated).toBe(0);
    expect(a.stats().handles).toBe(0);
  });

  it('align: small blocks from a class that is a multiple of it, page runs past a page', () => {
    using a = arena();
    for (const al of [1, 2, 16, 32, 64, 256, page, 4 * page]) {
      const h = a.allocHandle(24, al);
      expect(h % al).toBe(0);
      a.freeHandle(h);
    }
    expect(() => a.allocHandle(8, 3)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('refuses forged, freed, inner, foreign and view-API numbers with ERR_INVALID_ARG_VALUE, writing nothing', () => {
    using a = arena();
    using twin = arena();
    using other = arena();
    const small = a.allocHandle(64);
    const big = a.allocHandle(5 * page);
    const gone = a.allocHandle(64);
    twin.allocHandle(64);
    twin.allocHandle(5 * page);
    const twinGone = twin.allocHandle(64);
    a.freeHandle(gone);
    twin.freeHandle(twinGone);
    const view = a.alloc(64);
    twin.alloc(64);
    const viewOffset = Number(a.addressOf(view) - a.address);
    const foreign = other.allocHandle(3 * page);
    const before = a.stats();
    const bad = [gone, small + 16 * 3 + 8, small + 8, big + page, big + 1, viewOffset, foreign + 7 * page, -16, 0.5, NaN, Infinity, 2 ** 32, 2 ** 40, a.stats().committed];
    for (const x of bad) {
      expect(() => a.freeHandle(x)).toThrow(VALUE);
      expect(() => a.sizeOfHandle(x)).toThrow(VALUE);
      expect(() => a.reallocHandle(x, 10)).toThrow(VALUE);
      expect(() => a.bytes(x)).toThrow(VALUE);
    }
    for (const x of ['0', 0n, null, undefined, {}, [0]]) expect(() => a.freeHandle(x as unknown as number)).toThrow(TYPE);
    // A handle number is not a view, and a view is not a handle.
    expect(() => a.free(a.bytes(small))).toThrow(VALUE);
    expect(() => a.free(a.heap)).toThrow(VALUE);
    const after = a.stats();
    expect(after.allocated).toBe(before.allocated);
    expect(after.handles).toBe(before.handles);
    expect(after.freeBytesByClass).toEqual(before.freeBytesByClass);
    // Same metadata as an arena that never saw the refusals: the same next handles.
    for (const n of [64, 64, 100, 2 * page, 20000]) expect(a.allocHandle(n)).toBe(twin.allocHandle(n));
  });

  it('freed slots are handed out again lowest first, across every bitmap word of a slab, before a new slab is taken', () => {
    using a = arena();
    for (const size of [16, 64, 1000]) {
      const probe = a.allocHandle(size);
      const perSlab = Math.floor(slabBytes / a.sizeOfHandle(probe)); // whole slabs: the current one has no untouched slot
      a.freeHandle(probe);
      const hs: number[] = [];
      for (let i = 0; i < 3 * perSlab; i++) hs.push(a.allocHandle(size));
      expect(new Set(hs).size).toBe(hs.length);
      // Free a scattered third (a fixed pseudo-random pick), then take as many again.
      const freed: number[] = [];
      let x = 7;
      for (let i = 0; i < hs.length; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        if (x % 3 === 0) freed.push(hs[i]!);
      }
      for (const h of freed) a.freeHandle(h);
      const again = freed.map(() => a.allocHandle(size));
      expect([...again].sort((p, q) => p - q)).toEqual([...freed].sort((p, q) => p - q));
      for (const h of hs) a.freeHandle(h);
    }
  });

  it('a double free is refused; the block can be handed out again once', () => {
    using a = arena();
    const h = a.allocHandle(100);
    a.freeHandle(h);
    expect(() => a.freeHandle(h)).toThrow(VALUE);
    const again = a.allocHandle(100);
    expect(again).toBe(h); // the freed slot is the lowest free one
    a.freeHandle(again);
    expect(() => a.freeHandle(again)).toThrow(VALUE);
    const run = a.allocHandle(MiB);
    a.freeHandle(run);
    expect(() => a.freeHandle(run)).toThrow(VALUE);
  });

  it('an arena that never handed out a handle refuses every number; a closed arena refuses with ERR_INVALID_STATE', () => {
    const a = arena();
    expect(() => a.freeHandle(0)).toThrow(VALUE);
    expect(() => a.sizeOfHandle(0)).toThrow(VALUE);
    a.close();
    expect(() => a.allocHandle(8)).toThrow(STATE);
    expect(() => a.freeHandle(0)).toThrow(STATE);
    expect(() => a.heap).toThrow(STATE);
  });

  it('handles are refused in an arena with guard pages (a heap buffer would cover them)', () => {
    let a: Arena;
    try {
      a = arena({ guardPages: 1 });
    } catch {
      return; // no guard pages on this kernel: nothing to check
    }
    expect(() => a.allocHandle(8)).toThrow(STATE);
    expect(() => a.heap).toThrow(STATE);
    a.close();
  });
});

describe('Arena by handle: heap, growth, stale reads', () => {
  it('heap is replaced when the arena commits more; an old heap stays readable over what it covered', () => {
    using a = arena();
    const h = a.allocHandle(64);
    const h0 = a.heap;
    h0[h] = 42;
    expect(a.heap).toBe(h0); // the same object until the arena grows
    expect(h0.length).toBe(a.stats().committed);
    const big = a.allocHandle(8 * MiB);
    const h1 = a.heap;
    expect(h1).not.toBe(h0);
    expect(h1.length).toBe(a.stats().committed);
    expect(h1.length).toBeGreaterThan(h0.length);
    expect(h0[h]).toBe(42);
    expect(h1[h]).toBe(42);
    h1[big + 8 * MiB - 1] = 7;
    expect(a.data.getUint8(big + 8 * MiB - 1)).toBe(7);
    expect(a.data.buffer).toBe(h1.buffer);
  });

  it('stale reads after free and purge read zeros (DONTNEED), never crash; reset() detaches heap and gives a fresh one', () => {
    using a = arena();
    const hs: number[] = [];
    for (let i = 0; i < 1000; i++) hs.push(a.allocHandle(64));
    const big = a.allocHandle(MiB);
    const heap = a.heap;
    for (const h of hs) heap.fill(9, h, h + 64);
    heap.fill(9, big, big + MiB);
    for (const h of hs) a.freeHandle(h);
    a.freeHandle(big);
    a.purge();
    let sum = 0;
    for (const h of hs) sum += heap[h]!;
    for (let i = 0; i < MiB; i += page) sum += heap[big + i]!;
    expect(sum).toBe(0);
    a.reset();
    expect(heap.length).toBe(0); // detached with every other buffer of the arena
    expect(() => a.freeHandle(hs[0]!)).toThrow(VALUE);
    const h = a.allocHandle(64);
    a.heap[h] = 5;
    expect(a.heap[h]).toBe(5);
  });

  it('heap survives a transfer() of its buffer (the arena makes a new one over the same memory)', () => {
    using a = arena();
    const h = a.allocHandle(64);
    a.heap[h] = 3;
    const buf = a.heap.buffer as ArrayBuffer & { transfer?: () => ArrayBuffer };
    if (typeof buf.transfer !== 'function') return; // Node 20: no transfer()
    const moved = buf.transfer();
    expect(new Uint8Array(moved)[h]).toBe(3);
    expect(a.heap[h]).toBe(3);
    a.heap[h] = 4;
    expect(new Uint8Array(moved)[h]).toBe(4);
  });
});

describe('Arena by handle: discard()', () => {
  it('refuses heap, data, a bytes() window and any view over a heap buffer (ERR_PAGEWISE_FOREIGN_RANGE); every block keeps its bytes', () => {
    using a = arena();
    const hs: number[] = [];
    // Enough 64 B blocks to fill whole pages, so a discard would have pages to zero.
    for (let i = 0; i < (4 * page) / 64; i++) {
      const h = a.allocHandle(64);
      a.heap.fill(7, h, h + 64);
      hs.push(h);
    }
    const FOREIGN = expect.objectContaining({ code: 'ERR_PAGEWISE_FOREIGN_RANGE' });
    expect(() => discard(a.heap)).toThrow(FOREIGN);
    expect(() => discard(a.data)).toThrow(FOREIGN);
    expect(() => discard(a.heap.buffer as ArrayBuffer)).toThrow(FOREIGN);
    expect(() => discard(new Uint8Array(a.heap.buffer, hs[0]!, 2 * page))).toThrow(FOREIGN);
    expect(() => discard(a.bytes(hs[0]!, 64))).toThrow(FOREIGN);
    for (const h of hs) {
      expect(a.heap[h]).toBe(7);
      expect(a.heap[h + 63]).toBe(7);
    }
  });
});

describe('Arena by handle: reallocHandle', () => {
  it('stays in place within the class or the pages, grows into free pages after a run, else moves and keeps the bytes', () => {
    using a = arena();
    const h = a.allocHandle(40); // class 48
    a.heap.fill(1, h, h + 40);
    expect(a.reallocHandle(h, 48)).toBe(h);
    const r = a.allocHandle(2 * page + 10);
    a.heap.fill(2, r, r + 2 * page + 10);
    expect(a.reallocHandle(r, 3 * page)).toBe(r);
    const grown = a.reallocHandle(r, 6 * page); // the pages after it are free
    expect(grown).toBe(r);
    expect(a.sizeOfHandle(r)).toBe(6 * page);
    const moved = a.reallocHandle(h, 1000);
    expect(moved).not.toBe(h);
    expect([...a.bytes(moved, 40)].every((b) => b === 1)).toBe(true);
    expect(() => a.freeHandle(h)).toThrow(VALUE);
    const fence = a.allocHandle(page); // right after r's run, if the arena placed it there
    const far = a.reallocHandle(r, 64 * page);
    expect(a.heap[far + 2 * page + 9]).toBe(2);
    expect(a.stats().allocated).toBe(a.sizeOfHandle(moved) + a.sizeOfHandle(far) + a.sizeOfHandle(fence));
  });

  it('a failed realloc leaves the old block as it was', () => {
    using a = new Arena({ reserve: 8 * MiB, chunkSize: MiB, hugePages: false, decay: false });
    const h = a.allocHandle(100);
    a.heap.fill(5, h, h + 100);
    expect(() => a.reallocHandle(h, 64 * MiB)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const tooBig = 8 * MiB - slabBytes + 1; // one page more than is left after the slab
    expect(() => a.reallocHandle(h, tooBig)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    expect(a.sizeOfHandle(h)).toBe(112);
    expect([...a.bytes(h, 100)].every((b) => b === 5)).toBe(true);
    expect(a.tryAllocHandle(tooBig)).toBe(-1);
    // Past the reservation: a failed allocation, as tryAlloc's null, not a bad argument.
    expect(a.tryAllocHandle(64 * MiB)).toBe(-1);
    expect(a.tryAllocHandle(2 ** 40)).toBe(-1);
    expect(a.tryAllocHandle(2 ** 40, 64)).toBe(-1);
    expect(() => a.tryAllocHandle(2 ** 40, 3)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => a.tryAllocHandle(-1)).toThrow();
    expect(a.stats().handles).toBe(1);
  });
});

describe('Arena by handle: resident pages, exactly (mincore on the arena)', () => {
  it('k full slabs of written 64 B blocks are k slabs resident; after free-all and purge() nothing is', () => {
    using a = arena();
    const perSlab = slabBytes / 64;
    const k = 5;
    const hs: number[] = [];
    for (let i = 0; i < k * perSlab; i++) hs.push(a.allocHandle(64));
    const heap = a.heap;
    for (const h of hs) heap.fill(1, h, h + 64);
    expect(a.stats({ resident: true }).resident).toBe(k * slabBytes);
    for (const h of hs) a.freeHandle(h);
    a.purge();
    const s = a.stats({ resident: true });
    expect(s.resident).toBe(0);
    expect(s.allocated).toBe(0);
    expect(s.retained).toBe(0);
  });

  it('emptied slabs are kept for reuse (up to 4 a class) and counted as retained; purge() and the decay return them', async () => {
    for (const decay of [false, 20] as const) {
      using a = arena({ decay });
      const perSlab = slabBytes / 64;
      const first: number[] = [];
      for (let i = 0; i < 6 * perSlab; i++) first.push(a.allocHandle(64));
      const last = a.allocHandle(64); // the 7th slab, current
      const heap = a.heap;
      for (const h of first) heap.fill(1, h, h + 64);
      heap[last] = 1;
      for (const h of first) a.freeHandle(h);
      let s = a.stats({ resident: true });
      expect(s.retained).toBe(6 * slabBytes); // 4 kept on the class's list, 2 returned to the page runs
      expect(s.resident).toBe(6 * slabBytes + page);
      // Taken again and written: the rest of the 7th slab, then the kept and
      // returned pages; nothing else becomes resident.
      const again: number[] = [];
      for (let i = 0; i < 6 * perSlab; i++) again.push(a.allocHandle(64));
      for (const h of again) a.heap.fill(2, h, h + 64);
      expect(a.stats({ resident: true }).resident).toBe(7 * slabBytes);
      for (const h of again) a.freeHandle(h);
      if (decay === false) a.purge();
      else for (let i = 0; i < 500 && a.stats().retained > 0; i++) await new Promise((r) => setTimeout(r, 10));
      s = a.stats({ resident: true });
      expect(s.retained).toBe(0);
      // The 7th slab still holds `last`: a live handle slab keeps its pages
      // (unlike the view API's slabs, its free pages are not purged).
      expect(s.resident).toBe(slabBytes);
      expect(a.heap[last]).toBe(1);
    }
  });

  it('the default retain bound follows peak use: 32 MiB freed is kept dirty (no fault to reuse it), retain: 0 gives it back at once', () => {
    for (const retain of [undefined, 0]) {
      using a = arena(retain === undefined ? {} : { retain });
      const n = 32;
      const hs: number[] = [];
      for (let i = 0; i < n; i++) hs.push(a.allocHandle(MiB));
      for (const h of hs) a.heap.fill(1, h, h + MiB);
      for (const h of hs) a.freeHandle(h);
      const s = a.stats({ resident: true });
      expect(s.retained).toBe(retain === undefined ? n * MiB : 0);
      expect(s.resident).toBe(retain === undefined ? n * MiB : 0);
      if (retain === undefined) {
        // Taken again: the same pages, no new resident page.
        for (let i = 0; i < n; i++) hs[i] = a.allocHandle(MiB);
        expect(a.stats({ resident: true }).resident).toBe(n * MiB);
        for (const h of hs) a.freeHandle(h);
        a.purge();
        expect(a.stats({ resident: true }).resident).toBe(0);
      }
    }
  });
});

describe('Arena by handle: a steady state makes no system call', () => {
  const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  const traced = !underEmulation().qemu && strace.status === 0 && spawnSync('strace', ['-f', '-o', '/dev/null', 'true']).status === 0;
  it.skipIf(!traced)('allocHandle/freeHandle of every size kind, once warmed up: no mmap/mprotect/madvise on the arena (strace)', () => {
    const script = `
      const pw = require(${JSON.stringify(DIST)});
      const a = new pw.Arena({ reserve: 2 ** 30, hugePages: false });
      const sizes = [16, 64, 100, 3000, 5000, 20000, 100000, 300000, 2 ** 20];
      const live = sizes.map((n) => a.allocHandle(n));
      const round = () => { for (let i = 0; i < sizes.length; i++) { a.freeHandle(live[i]); live[i] = a.allocHandle(sizes[i]); a.heap[live[i]] = 1; } };
      for (let r = 0; r < 1000; r++) round();
      process._rawDebug('MARK-START ' + a.address.toString(16));
      for (let r = 0; r < 20000; r++) round();
      process._rawDebug('MARK-END');`;
    const out = path.join(os.tmpdir(), `pagewise-strace-handles-${process.pid}.txt`);
    const r = spawnSync('strace', ['-f', '-e', 'trace=write,mmap,munmap,mprotect,madvise,process_madvise', '-o', out, process.execPath, '-e', script], { encoding: 'utf8', timeout: HANG_GUARD_MS });
    expect(r.status).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    fs.unlinkSync(out);
    const start = lines.findIndex((l) => l.includes('MARK-START'));
    const end = lines.findIndex((l) => l.includes('MARK-END'));
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const lo = BigInt(`0x${/MARK-START ([0-9a-f]+)/.exec(lines[start]!)![1]}`);
    const hi = lo + 2n ** 30n;
    const onArena = lines.slice(start, end).filter((l) => {
      const m = /\b(mmap|munmap|mprotect|madvise|process_madvise)\((0x[0-9a-f]+)/.exec(l);
      return m !== null && BigInt(m[2]!) >= lo && BigInt(m[2]!) < hi;
    });
    expect(onArena).toEqual([]);
  });
});

describe('Arena by handle beside the view API', () => {
  it('views and handles share the arena; neither API frees the other\'s blocks; reset() frees both', () => {
    using a = arena();
    const views: Uint8Array[] = [];
    const hs: number[] = [];
    for (let i = 0; i < 300; i++) {
      views.push(a.alloc(i % 3 === 0 ? 3 * page : 64).fill(i & 255));
      const h = a.allocHandle(i % 3 === 0 ? 3 * page : 64);
      a.heap.fill((i + 1) & 255, h, h + 64);
      hs.push(h);
    }
    for (let i = 0; i < 300; i++) {
      expect(views[i]![0]).toBe(i & 255);
      expect(a.heap[hs[i]!]).toBe((i + 1) & 255);
      expect(() => a.freeHandle(Number(a.addressOf(views[i]!) - a.address))).toThrow(VALUE);
    }
    for (let i = 0; i < 300; i += 2) {
      a.free(views[i]!);
      a.freeHandle(hs[i]!);
    }
    for (let i = 1; i < 300; i += 2) {
      expect(views[i]![1]).toBe(i & 255);
      expect(a.heap[hs[i]! + 1]).toBe((i + 1) & 255);
    }
    a.reset();
    const s = a.stats({ resident: true });
    expect(s.allocated).toBe(0);
    expect(s.handles).toBe(0);
    expect(s.resident).toBe(0);
    expect(() => a.freeHandle(hs[1]!)).toThrow(VALUE);
  });
});

describe('Arena by handle, checked (handleGenerations)', () => {
  const GEN = 2 ** 32;
  it('a handle is generation * 2^32 + offset; offsetOfHandle gives the offset; a stale handle is refused even after its memory was handed out again', () => {
    using a = arena({ handleGenerations: true });
    for (const size of [64, 5 * page]) {
      const h1 = a.allocHandle(size);
      expect(h1).toBeGreaterThanOrEqual(GEN);
      const off = a.offsetOfHandle(h1);
      expect(off).toBe(h1 % GEN);
      a.heap[off] = 9;
      a.freeHandle(h1);
      const h2 = a.allocHandle(size); // the same memory (lowest free slot, or the same free run)...
      expect(a.offsetOfHandle(h2)).toBe(off);
      expect(h2).not.toBe(h1); // ...under a new generation
      const before = a.stats();
      for (const f of [() => a.freeHandle(h1), () => a.sizeOfHandle(h1), () => a.offsetOfHandle(h1), () => a.bytes(h1), () => a.reallocHandle(h1, 10)]) expect(f).toThrow(VALUE);
      expect(() => a.freeHandle(off)).toThrow(VALUE); // a bare offset is no checked handle
      expect(a.stats().allocated).toBe(before.allocated);
      expect(a.bytes(h2, 1)[0]).toBe(9);
      a.freeHandle(h2);
    }
  });

  it('realloc keeps the handle in place and gives a new generation when it moves', () => {
    using a = arena({ handleGenerations: true });
    const h = a.allocHandle(40);
    a.heap.fill(3, a.offsetOfHandle(h), a.offsetOfHandle(h) + 40);
    expect(a.reallocHandle(h, 48)).toBe(h);
    const m = a.reallocHandle(h, 3000);
    expect(m).not.toBe(h);
    expect([...a.bytes(m, 40)].every((b) => b === 3)).toBe(true);
    expect(() => a.freeHandle(h)).toThrow(VALUE);
    a.freeHandle(m);
    expect(a.stats().handles).toBe(0);
  });

  it('refuses a non-boolean option', () => {
    expect(() => arena({ handleGenerations: 1 as unknown as boolean })).toThrow(TYPE);
  });
});

describe('Arena by handle: offsets past 2 GiB', () => {
  for (const handleGenerations of [false, true]) it(`blocks above 2^31 work (heap, data, free, checks); a block that would end past the handle area is refused with ERR_OUT_OF_RANGE${handleGenerations ? ' (checked handles)' : ''}`, () => {
    using a = new Arena({ reserve: 6 * 2 ** 30, hugePages: false, decay: false, handleGenerations });
    const big = a.allocHandle(2.5 * 2 ** 30); // committed, never touched: nothing resident
    const hs = [a.allocHandle(64), a.allocHandle(5000), a.allocHandle(3 * page)];
    const offs = hs.map((h) => a.offsetOfHandle(h));
    for (const o of offs) expect(o).toBeGreaterThanOrEqual(2 ** 31);
    const heap = a.heap;
    offs.forEach((o, i) => heap.fill(i + 1, o, o + 64));
    offs.forEach((o, i) => expect(a.data.getUint8(o + 63)).toBe(i + 1));
    expect(() => a.freeHandle(hs[0]! + 16)).toThrow(VALUE);
    for (const h of hs) a.freeHandle(h);
    expect(() => a.freeHandle(hs[0]!)).toThrow(VALUE);
    // 1.6 GiB after the 2.5 GiB block would end past 4 GiB (the handle area on
    // Node 20; Node 22+ allow larger buffers, but handles stay below 2^32).
    const limit = Math.min(buffer.constants.MAX_LENGTH, 2 ** 32);
    expect(limit).toBeLessThanOrEqual(2 ** 32);
    const before = a.stats().handles;
    expect(() => a.allocHandle(1.6 * 2 ** 30)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(a.stats().handles).toBe(before);
    a.freeHandle(big);
    expect(a.stats().handles).toBe(0);
  });
});
