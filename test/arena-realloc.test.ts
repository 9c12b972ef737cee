/**
 * Arena: sizeOf(view) and realloc(view, size) (issue 15): usable sizes,
 * growing in place into free pages, moving when it cannot, contents kept,
 * old views refused afterwards, errors with codes.
 */
import { describe, expect, it } from 'vitest';
import { Arena, LARGE_BLOCK_BYTES } from '../lib/arena';
import { pageSize } from '../lib/kernel/system';

const page = pageSize();
const MiB = 2 ** 20;

function arena(): Arena {
  return new Arena({ reserve: 256 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: false });
}

function pattern(v: Uint8Array, seed: number): Uint8Array {
  for (let i = 0; i < v.length; i++) v[i] = (i * 31 + seed) & 255;
  return v;
}

function holds(v: Uint8Array, seed: number, n = v.length): boolean {
  for (let i = 0; i < n; i++) if (v[i] !== ((i * 31 + seed) & 255)) return false;
  return true;
}

describe('Arena: sizeOf', () => {
  it('is the size class for small blocks and whole pages for runs', () => {
    using a = arena();
    expect(a.sizeOf(a.alloc(1))).toBe(16);
    expect(a.sizeOf(a.alloc(100))).toBe(112);
    expect(a.sizeOf(a.alloc(0))).toBe(16);
    expect(a.sizeOf(a.alloc(3 * page + 1))).toBe(4 * page);
    expect(a.sizeOf(a.alloc(LARGE_BLOCK_BYTES + 1))).toBe(LARGE_BLOCK_BYTES + page);
    const v = a.alloc(64);
    expect(() => a.sizeOf(v.subarray(8))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.sizeOf(new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.sizeOf({} as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    a.free(v);
    expect(() => a.sizeOf(v)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const big = a.alloc(2 * page);
    a.free(big);
    expect(() => a.sizeOf(big)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe('Arena: realloc', () => {
  it('stays in place within the usable size, growing or shrinking', () => {
    using a = arena();
    const v = pattern(a.alloc(100), 1);
    const w = a.realloc(v, 112);
    expect(a.addressOf(w)).toBe(a.addressOf(v));
    expect(w.length).toBe(112);
    expect(holds(w, 1, 100)).toBe(true);
    const x = a.realloc(w, 10);
    expect(a.addressOf(x)).toBe(a.addressOf(v));
    expect(x.length).toBe(10);
    const r = pattern(a.alloc(3 * page + 5), 2);
    const r2 = a.realloc(r, 4 * page);
    expect(a.addressOf(r2)).toBe(a.addressOf(r));
    expect(holds(r2, 2, 3 * page + 5)).toBe(true);
    a.free(x);
    a.free(r2);
    expect(a.stats().allocated).toBe(0);
  });

  it('grows a page run in place into the free pages after it, across the large-block size', () => {
    using a = arena();
    const r = pattern(a.alloc(5 * page), 3);
    const at = a.addressOf(r);
    const allocated = a.stats().allocated;
    const r2 = a.realloc(r, 20 * page); // the pages after it are free
    expect(a.addressOf(r2)).toBe(at);
    expect(r2.length).toBe(20 * page);
    expect(holds(r2, 3, 5 * page)).toBe(true);
    expect(a.stats().allocated).toBe(allocated + 15 * page);
    const r3 = a.realloc(r2, LARGE_BLOCK_BYTES * 2); // now large: a buffer of its own
    expect(a.addressOf(r3)).toBe(at);
    expect(holds(r3, 3, 5 * page)).toBe(true);
    r3.fill(9);
    const r4 = a.realloc(r3, LARGE_BLOCK_BYTES * 3);
    expect(a.addressOf(r4)).toBe(at);
    expect(r3.length).toBe(0); // the old large view is detached
    expect(r4.subarray(0, LARGE_BLOCK_BYTES * 2).every((b) => b === 9)).toBe(true);
    expect(() => a.free(r3)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    a.free(r4);
    expect(a.stats().allocated).toBe(0);
  });

  it('moves when the next pages are taken (or the class is too small), keeping contents and freeing the old block', () => {
    using a = arena();
    const r = pattern(a.alloc(5 * page), 4);
    const blocker = a.alloc(page);
    const r2 = a.realloc(r, 10 * page);
    expect(a.addressOf(r2)).not.toBe(a.addressOf(blocker));
    expect(holds(r2, 4, 5 * page)).toBe(true);
    expect(() => a.free(r)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const s = pattern(a.alloc(48), 5);
    const s2 = a.realloc(s, 5000);
    expect(s2.length).toBe(5000);
    expect(holds(s2, 5, 48)).toBe(true);
    expect(() => a.free(s)).toThrow(/double free/);
    const l = pattern(a.alloc(LARGE_BLOCK_BYTES), 6);
    a.alloc(page); // takes the page after it
    const l2 = a.realloc(l, LARGE_BLOCK_BYTES * 2);
    expect(l.length).toBe(0);
    expect(holds(l2, 6, LARGE_BLOCK_BYTES)).toBe(true);
    a.free(r2);
    a.free(s2);
    a.free(l2);
    a.free(blocker);
    expect(a.stats().allocated).toBe(2 * page - page); // the one page block left
  });

  it('refuses what free() refuses, and bad sizes, with codes', () => {
    using a = arena();
    const v = a.alloc(64);
    expect(() => a.realloc(v, -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => a.realloc(v, 1n as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => a.realloc(v, 300 * MiB)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => a.realloc(v.subarray(1), 8)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.realloc(Buffer.alloc(8), 8)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => Arena.prototype.realloc.call({}, v, 8)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_THIS' }));
    expect(() => Arena.prototype.sizeOf.call(new Proxy(a, {}), v)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_THIS' }));
    a.free(v);
    expect(() => a.realloc(v, 8)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    a.close();
    expect(() => a.realloc(v, 8)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
  });
});
