/**
 * discard() on real memory: exact page counts on the range itself (pagemap's
 * present bit, read independently of the mincore discard uses), the bytes
 * around the whole pages untouched, and one test per refusal.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Arena, attach, discard, mmap, pageSize, unsafe } from '../lib/index';
import { native } from '../lib/native/binding';
import { readPagemap, PM_PRESENT } from '../lib/kernel/pagemap';
import { ifMeasurable, unmeasurable } from './helpers/emulation';
import { DIST } from './helpers/child';
import { ASAN, sanitizerSkips } from './helpers/sanitizer';

const page = pageSize();
const P = BigInt(page);

/** Present pages of [address, address + pages * page) by /proc/self/pagemap bit 63. */
function present(address: bigint, pages: number): number {
  let n = 0;
  for (const e of readPagemap(address, pages)) if (e & PM_PRESENT) n++;
  return n;
}

function addressOf(ab: ArrayBuffer): bigint {
  const info = native.arrayBufferInfo(ab);
  if (!info) throw new Error('detached');
  return info[0];
}

/** Fills every byte with a pattern (every page written, so present). */
function fill(u: Uint8Array): void {
  for (let i = 0; i < u.length; i++) u[i] = (i % 251) + 1;
}

describe('discard gives back exactly the whole pages inside the range', () => {
  it('an ArrayBuffer: every whole page advised, residency of those pages falls by exactly their count, the edges keep their bytes', () => {
    const size = 64 * page + 123;
    const ab = new ArrayBuffer(size);
    const u = new Uint8Array(ab);
    fill(u);
    const data = addressOf(ab);
    const first = ((data + P - 1n) / P) * P;
    const last = ((data + BigInt(size)) / P) * P;
    const pages = Number((last - first) / P);
    expect(pages).toBeGreaterThanOrEqual(63);
    ifMeasurable('pagemap', 'pagemap present bits before', () => expect(present(first, pages)).toBe(pages));
    const r = discard(ab);
    expect(r.bytes).toBe(pages * page);
    expect(r.address).toBe(first);
    expect(r.head).toBe(Number(first - data));
    expect(r.tail).toBe(Number(data + BigInt(size) - last));
    ifMeasurable('mincore', 'mincore residency before', () => expect(r.residentBefore).toBe(pages * page));
    ifMeasurable(['pagemap', 'dontneedZeroes'], 'pagemap present bits after', () => expect(present(first, pages)).toBe(0));
    ifMeasurable('dontneedZeroes', 'bytes read back', () => {
      const headLen = r.head;
      for (let i = 0; i < size; i++) {
        const inside = i >= headLen && i < headLen + r.bytes;
        if (u[i] !== (inside ? 0 : (i % 251) + 1)) throw new Error(`byte ${i}: ${u[i]}`);
      }
    });
  });

  it('an unaligned sub-range of a view: only the whole pages inside it, bytes outside it unchanged', () => {
    const ab = new ArrayBuffer(40 * page);
    const view = new Uint8Array(ab, 100, 30 * page);
    fill(new Uint8Array(ab));
    const before = Uint8Array.from(new Uint8Array(ab));
    const data = addressOf(ab);
    const from = data + 100n + BigInt(page + 7);
    const len = 10 * page;
    const first = ((from + P - 1n) / P) * P;
    const last = ((from + BigInt(len)) / P) * P;
    const pages = Number((last - first) / P);
    expect(pages).toBeGreaterThanOrEqual(9);
    const r = discard(view, page + 7, len);
    expect(r.bytes).toBe(pages * page);
    expect(r.head + r.bytes + r.tail).toBe(len);
    ifMeasurable(['pagemap', 'dontneedZeroes'], 'pagemap present bits after', () => {
      expect(present(first, pages)).toBe(0);
      // The pages around it were written and stay.
      expect(present(first - P, 1)).toBe(1);
      expect(present(last, 1)).toBe(1);
    });
    ifMeasurable('dontneedZeroes', 'bytes read back', () => {
      const all = new Uint8Array(ab);
      const lo = Number(first - data), hi = Number(last - data);
      for (let i = 0; i < all.length; i++) if (all[i] !== (i >= lo && i < hi ? 0 : before[i])) throw new Error(`byte ${i}`);
    });
  });

  it('a range with no whole page gives back nothing and changes nothing', () => {
    const ab = new ArrayBuffer(5 * page);
    const u = new Uint8Array(ab);
    fill(u);
    const r = discard(u, 10, page - 20);
    expect(r).toMatchObject({ bytes: 0, residentBefore: 0, address: 0n, checkedBy: 'none' });
    expect(u[10]).toBe((10 % 251) + 1);
  });

  it('a large Buffer (Buffer.allocUnsafeSlow), a DataView and a Float64Array', () => {
    for (const make of [
      (n: number) => Buffer.allocUnsafeSlow(n),
      (n: number) => new DataView(new ArrayBuffer(n)),
      (n: number) => new Float64Array(n / 8),
    ]) {
      const v = make(33 * page);
      const ab = v.buffer as ArrayBuffer;
      fill(new Uint8Array(ab));
      const data = addressOf(ab);
      const first = ((data + P - 1n) / P) * P;
      const pages = Number((((data + BigInt(33 * page)) / P) * P - first) / P);
      const r = discard(v);
      expect(r.bytes).toBe(pages * page);
      ifMeasurable(['pagemap', 'dontneedZeroes'], 'pagemap present bits after', () => expect(present(first, pages)).toBe(0));
    }
  });

  it('a WebAssembly.Memory: the pages read zero, the memory keeps working, residency of the range is 0', () => {
    const mem = new (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly.Memory({ initial: 8 }); // 8 x 64 KiB
    const u = new Uint8Array(mem.buffer);
    fill(u);
    const r = discard(mem.buffer, 65536, 4 * 65536);
    expect(r.bytes).toBe(4 * 65536 - (r.head + r.tail));
    ifMeasurable(['pagemap', 'dontneedZeroes'], 'pagemap present bits after', () => expect(present(r.address, r.bytes / page)).toBe(0));
    ifMeasurable('dontneedZeroes', 'bytes read back', () => {
      expect(u[65536 + r.head]).toBe(0);
      expect(u[65535]).toBe((65535 % 251) + 1);
    });
    u[65536 + 5] = 9;
    expect(u[65536 + 5]).toBe(9);
  });

  it('a resizable ArrayBuffer', () => {
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(17 * page, { maxByteLength: 64 * page });
    fill(new Uint8Array(ab));
    const r = discard(ab);
    ifMeasurable(['pagemap', 'dontneedZeroes'], 'pagemap present bits after', () => expect(present(r.address, r.bytes / page)).toBe(0));
    expect(r.bytes).toBeGreaterThanOrEqual(16 * page);
  });

  it("a pagewise Mapping's view: the Mapping's own residency falls by exactly the pages given back", () => {
    const m = mmap(33 * page);
    try {
      m.advise('nohugepage');
      const v = m.view();
      fill(v);
      ifMeasurable('mincore', 'mapping residency before', () => expect(m.residentPages()).toBe(33));
      const r = discard(v, 4 * page, 10 * page);
      expect(r.bytes).toBe(10 * page);
      ifMeasurable(['mincore', 'dontneedZeroes'], 'mapping residency after', () => expect(m.residentPages()).toBe(23));
      ifMeasurable('dontneedZeroes', 'bytes read back', () => {
        expect(v[4 * page]).toBe(0);
        expect(v[4 * page - 1]).not.toBe(0);
      });
    } finally {
      m.unmap();
    }
  });
});

describe('discard refuses what it cannot give back safely', () => {
  it("Node's Buffer pool: a pooled Buffer and the pool's ArrayBuffer itself", () => {
    const pooled = Buffer.from('a short string lands in the pool');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const copy = Buffer.from(pooled);
    expect(() => discard(pooled)).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_BUFFER_POOL' }));
    expect(() => discard(pooled.buffer)).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_BUFFER_POOL' }));
    expect(() => discard(new Uint8Array(pooled.buffer))).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_BUFFER_POOL' }));
    expect(pooled.equals(copy)).toBe(true);
  });

  it('file mappings, private and shared', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-discard-'));
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, Buffer.alloc(9 * page, 7));
    const fd = fs.openSync(file, 'r+');
    try {
      for (const shared of [false, true]) {
        const m = mmap(9 * page, { file: { fd }, shared });
        try {
          const v = m.view();
          expect(() => discard(v)).toThrowError(expect.objectContaining({ code: shared ? 'ERR_PAGEWISE_SHARED_MAPPING' : 'ERR_PAGEWISE_FILE_MAPPING' }));
          expect(v[page]).toBe(7);
        } finally {
          m.unmap();
        }
      }
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shared anonymous memory and a SharedArrayBuffer', () => {
    const m = mmap(9 * page, { shared: true });
    try {
      const v = m.view();
      v.fill(3);
      expect(() => discard(v)).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_SHARED_MAPPING' }));
      expect(v[page]).toBe(3);
    } finally {
      m.unmap();
    }
    const sab = new SharedArrayBuffer(9 * page);
    expect(() => discard(sab as never)).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_SHARED_MAPPING' }));
    expect(() => discard(new Uint8Array(sab))).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_SHARED_MAPPING' }));
  });

  it('a pagewise Mapping shared with another holder (share()/attach()), from either side', () => {
    const m = mmap(9 * page);
    m.view().fill(2);
    const other = attach(m.share());
    try {
      expect(() => discard(m.view())).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_SHARED_MAPPING' }));
      expect(() => discard(other.view())).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_SHARED_MAPPING' }));
      expect(other.view()[page]).toBe(2);
    } finally {
      other.unmap();
      m.unmap();
    }
  });

  it("an Arena's memory: a block's own view gives back its own pages; its ArrayBuffer, holding other blocks, is refused", () => {
    const arena = new Arena({ hugePages: false });
    try {
      const a = arena.alloc(9 * page);
      const small = arena.alloc(100);
      const b = arena.alloc(9 * page);
      a.fill(1);
      b.fill(2);
      small.fill(3);
      const r = discard(a);
      expect(r.bytes).toBeGreaterThanOrEqual(8 * page);
      ifMeasurable('dontneedZeroes', 'bytes read back', () => expect(a[r.head]).toBe(0));
      expect(b.every((x) => x === 2)).toBe(true);
      for (const v of [small.buffer, new Uint8Array(small.buffer), b.buffer, a.subarray(0)]) {
        expect(() => discard(v as ArrayBuffer)).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_FOREIGN_RANGE' }));
      }
      expect(small.every((x) => x === 3)).toBe(true);
    } finally {
      arena.close();
    }
  });

  it.skipIf(typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function')("an Arena's memory moved out with transfer() is refused by address: the other blocks keep their bytes", () => {
    const arena = new Arena({ hugePages: false });
    try {
      const a = arena.alloc(9 * page);
      const small = arena.alloc(100);
      a.fill(1);
      small.fill(3);
      // A new ArrayBuffer pagewise never saw, over the slab that holds `small` (and over `a`'s pages).
      const moved = [(small.buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer(), (a.buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer()];
      for (const t of moved) expect(() => discard(t)).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_FOREIGN_RANGE', message: expect.stringMatching(/Arena's reservation/) }));
      expect(new Uint8Array(moved[0]!).subarray(small.byteOffset, small.byteOffset + 100).every((x) => x === 3)).toBe(true);
    } finally {
      arena.close();
    }
  });

  it("a pagewise view sent to a worker: where the worker's buffer is the Mapping's memory its discard is refused; a copy is its own; the main thread's bytes never change", async () => {
    const m = mmap(9 * page);
    const v = m.view();
    v.fill(7);
    let outcome: { code: string; address: string } | string;
    try {
      const w = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads'); const pw = require(${JSON.stringify(DIST)});
         const address = String(require(${JSON.stringify(path.join(path.dirname(DIST), 'native', 'binding.js'))}).native.arrayBufferInfo(workerData)[0]);
         try { pw.discard(workerData); parentPort.postMessage({ code: 'discarded', address }); } catch (e) { parentPort.postMessage({ code: e.code, address }); }`,
        { eval: true, workerData: v.buffer, transferList: [v.buffer as ArrayBuffer] },
      );
      outcome = await new Promise<{ code: string; address: string }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      await w.terminate();
    } catch (err) {
      // Node 22+ marks external ArrayBuffers untransferable: the buffer never leaves.
      outcome = (err as Error).name;
    }
    if (typeof outcome === 'string') expect(outcome).toBe('DataCloneError');
    else {
      const a = BigInt(outcome.address);
      const inside = a >= m.address && a < m.address + BigInt(m.length);
      // Node 20 sends a copy of an external buffer (another address): the worker's own memory.
      expect(outcome.code).toBe(inside ? 'ERR_PAGEWISE_SHARED_MAPPING' : 'discarded');
    }
    expect(m.view().every((b) => b === 7)).toBe(true);
    m.unmap();
  });

  it('memory that is not private anonymous read-write (an unsafe view of a read-only mapping)', () => {
    const m = mmap(9 * page, { prot: 'r' });
    try {
      const v = unsafe.view(m);
      expect(() => discard(v)).toThrowError(expect.objectContaining({ code: 'ERR_PAGEWISE_FOREIGN_RANGE' }));
    } finally {
      m.unmap();
    }
  });

  it.skipIf(sanitizerSkips('discard of locked pages', ASAN.mlock) || unmeasurable('mlock2', 'mlock'))('locked pages: the kernel refuses MADV_DONTNEED (EINVAL from madvise) and the bytes stay', () => {
    const m = mmap(9 * page);
    try {
      const v = m.view();
      v.fill(6);
      m.lock();
      expect(() => discard(v)).toThrowError(expect.objectContaining({ code: 'EINVAL', syscall: 'madvise', errno: -os.constants.errno.EINVAL }));
      expect(v.every((b) => b === 6)).toBe(true);
      m.unlock();
    } finally {
      m.unmap();
    }
  });

  it('a detached buffer', () => {
    const ab = new ArrayBuffer(9 * page);
    structuredClone(ab, { transfer: [ab] });
    expect(() => discard(ab)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
  });

  it('bad arguments: TypeError or RangeError before anything is advised', () => {
    const ab = new ArrayBuffer(9 * page);
    const u = new Uint8Array(ab);
    u.fill(5);
    for (const bad of [undefined, null, 42, 'abc', {}, [1, 2]]) {
      expect(() => discard(bad as never)).toThrowError(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    }
    expect(() => discard(u, -1)).toThrowError(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    expect(() => discard(u, 1.5)).toThrowError(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    expect(() => discard(u, 9 * page + 1)).toThrowError(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    expect(() => discard(u, page, 8 * page + 1)).toThrowError(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    expect(() => discard(u, '0' as never)).toThrowError(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(u.every((b) => b === 5)).toBe(true);
  });

  it('a view whose getters lie is measured by the intrinsics, not by the getters', () => {
    const ab = new ArrayBuffer(17 * page);
    const u = new Uint8Array(ab, 0, 2 * page);
    new Uint8Array(ab).fill(4);
    Object.defineProperty(u, 'byteLength', { value: 17 * page });
    Object.defineProperty(u, 'byteOffset', { value: 0 });
    discard(u);
    expect(new Uint8Array(ab)[3 * page]).toBe(4);
  });
});
