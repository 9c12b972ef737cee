/**
 * Arena: the API contract (validation, alloc/free, double free and foreign
 * views, alignment, zeroing, large blocks, reset, close).
 */
import { describe, expect, it } from 'vitest';
import { Arena, LARGE_BLOCK_BYTES } from '../lib/arena';
import { pageSize } from '../lib/kernel/system';

const page = pageSize();
const MiB = 2 ** 20;

function arena(): Arena {
  return new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
}

describe('Arena: options', () => {
  it('refuses bad options before any system call', () => {
    expect(() => new Arena({ reserve: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new Arena({ reserve: '1' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Arena({ chunkSize: page + 1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    // Above the largest chunk the running Node allows (2^32 on Node 20; 2^53 is beyond any reserve elsewhere): no 1 TiB reservation is tried.
    expect(() => new Arena({ chunkSize: 2 ** 53 })).toThrow(RangeError);
    expect(() => new Arena({ purge: 'later' as 'free' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new Arena({ name: 'a[b]' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new Arena({ size: 1 } as unknown as object)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new Arena({ prefault: 1 as unknown as boolean })).toThrow(TypeError);
  });

  it('reserves without committing; rounds the reservation up to whole chunks', () => {
    using a = new Arena({ reserve: 3 * MiB + 1, chunkSize: MiB });
    const s = a.stats();
    expect(s.reserved).toBe(4 * MiB);
    expect(s.committed).toBe(0);
    expect(s.allocated).toBe(0);
    expect(s.resident).toBe(0);
    expect(s.freeBytesByClass).toEqual({ pages: 0 });
  });
});

describe('Arena: alloc and free', () => {
  it('alloc returns views of exactly the size asked, in distinct memory', () => {
    using a = arena();
    const sizes = [0, 1, 15, 16, 17, 64, 100, 1000, 4000, 8192, 8193, 3 * page, 100_000, LARGE_BLOCK_BYTES, 3 * MiB];
    const views = sizes.map((n) => a.alloc(n));
    views.forEach((v, i) => {
      expect(v).toBeInstanceOf(Uint8Array);
      expect(v.length).toBe(sizes[i]);
      v.fill(i + 1);
    });
    views.forEach((v, i) => expect(v.every((b) => b === i + 1)).toBe(true));
    for (const v of views) a.free(v);
    expect(a.stats().allocated).toBe(0);
  });

  it('counts allocated bytes at block size: size classes, whole pages', () => {
    using a = arena();
    const small = a.alloc(100); // class 112
    expect(a.stats().allocated).toBe(112);
    const run = a.alloc(page * 2 + 1); // above the small classes (8 KiB): 3 whole pages
    expect(a.stats().allocated).toBe(112 + 3 * page);
    a.free(small);
    a.free(run);
    expect(a.stats().allocated).toBe(0);
  });

  it('reuses a freed small block at once (steady state costs no new memory)', () => {
    using a = arena();
    const v = a.alloc(64);
    const off = v.byteOffset;
    const buf = v.buffer;
    a.free(v);
    const w = a.alloc(64);
    expect(w.buffer).toBe(buf);
    expect(w.byteOffset).toBe(off);
  });

  it('refuses double free, parts of blocks, foreign and non-views with clear errors', () => {
    using a = arena();
    using b = arena();
    const v = a.alloc(64);
    const m = a.alloc(4 * page + 1);
    const l = a.alloc(LARGE_BLOCK_BYTES);
    expect(() => a.free(v.subarray(16))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.free(new Uint8Array(v.buffer))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.free(m.subarray(page))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => b.free(v)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.free(new Uint8Array(64))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.free(Buffer.alloc(64))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.free({} as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => a.free(null as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    a.free(v);
    a.free(m);
    a.free(l);
    expect(() => a.free(v)).toThrow(/double free/);
    expect(() => a.free(m)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.free(l)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(a.stats().allocated).toBe(0);
  });

  it('detaches a large block on free; small and medium views stay until their slab or reset', () => {
    using a = arena();
    const l = a.alloc(LARGE_BLOCK_BYTES + 1);
    const s = a.alloc(32);
    const keep = a.alloc(32); // keeps the slab alive
    a.free(l);
    expect(l.length).toBe(0);
    expect(l.buffer.byteLength).toBe(0);
    a.free(s);
    expect(s.length).toBe(32);
    a.free(keep);
    a.purge(); // returns the now empty slab: its buffer is detached
    expect(s.length).toBe(0);
    expect(keep.length).toBe(0);
  });

  it('validates size and align', () => {
    using a = arena();
    expect(() => a.alloc(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => a.alloc(1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => a.alloc('8' as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => a.alloc(65 * MiB)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => a.alloc(8, 3)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => a.alloc(8, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => a.tryAlloc(-1)).toThrow(RangeError);
    expect(() => a.tryAlloc(1.5)).toThrow(RangeError);
    expect(() => a.tryAlloc(2 ** 40, 3)).toThrow(RangeError); // a bad align is still a bad argument
    // A size past the reservation or the runtime's largest ArrayBuffer is a failed allocation, not a bad argument.
    expect([a.tryAlloc(65 * MiB), a.tryAlloc(2 ** 40), a.tryAlloc(2 ** 40, 16)]).toEqual([null, null, null]);
    expect(a.stats().allocated).toBe(0);
  });

  it('aligns blocks to any power of two', () => {
    using a = arena();
    const base = a.address;
    for (const align of [1, 2, 8, 16, 32, 64, 128, 256, 1024, page, 2 * page, 16 * page, MiB]) {
      for (const size of [1, 24, 100, 3000, 5 * page]) {
        const v = a.alloc(size, align);
        expect(v.length).toBe(size);
        const addr = a.addressOf(v);
        expect(addr >= base).toBe(true);
        expect(Number(addr % BigInt(align))).toBe(0);
        a.free(v);
      }
    }
    expect(a.stats().allocated).toBe(0);
  });

  it('allocZeroed gives zeros, also over reused memory', () => {
    using a = arena();
    for (const size of [10, 5000, 3 * page + 5, LARGE_BLOCK_BYTES + 5]) {
      const v = a.alloc(size);
      v.fill(0xab);
      a.free(v);
      const z = a.allocZeroed(size);
      expect(z.length).toBe(size);
      expect(z.every((b) => b === 0)).toBe(true);
      z.fill(0xcd);
      a.free(z);
    }
  });
});

describe('Arena: bookkeeping', () => {
  it('stays within 1% of committed memory for blocks of 32 bytes and up (16-byte blocks: 1.4%)', () => {
    for (const [size, limit] of [[16, 0.014], [32, 0.01], [64, 0.01], [100, 0.01], [5000, 0.01], [20_000, 0.01], [300_000, 0.01]] as const) {
      using a = new Arena({ reserve: 256 * MiB, hugePages: false });
      const keep: Uint8Array[] = [];
      for (let i = 0; i < Math.floor((32 * MiB) / size); i++) keep.push(a.alloc(size));
      const s = a.stats();
      expect(s.bookkeepingBytes / s.committed, `${size}-byte blocks`).toBeLessThanOrEqual(limit);
    }
  });
});

describe('Arena: reset and close', () => {
  it('reset detaches every view and frees every block', () => {
    using a = arena();
    const views = [a.alloc(8), a.alloc(3000), a.alloc(5 * page), a.alloc(2 * MiB)];
    for (const v of views) v.fill(1);
    a.reset();
    for (const v of views) expect(v.length).toBe(0);
    expect(() => a.free(views[0]!)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const s = a.stats();
    expect(s.allocated).toBe(0);
    expect(s.freeBytesByClass).toEqual({ pages: s.committed });
    const again = a.alloc(64);
    expect(again.length).toBe(64);
  });

  it('reset({ decommit: true }) returns the commit', () => {
    using a = arena();
    a.alloc(3 * MiB).fill(1);
    expect(a.stats().committed).toBe(3 * MiB);
    a.reset({ decommit: true });
    expect(a.stats().committed).toBe(0);
    expect(a.stats().resident).toBe(0);
    a.alloc(10).fill(1);
    expect(a.stats().committed).toBe(MiB);
    expect(() => a.reset({ decommit: 1 as unknown as boolean })).toThrow(TypeError);
  });

  it('close detaches everything, is idempotent, and refuses further use', () => {
    const a = arena();
    const v = a.alloc(100);
    const l = a.alloc(MiB);
    expect(a.closed).toBe(false);
    a.close();
    a.close();
    a[Symbol.dispose]();
    expect(a.closed).toBe(true);
    expect(v.length).toBe(0);
    expect(l.length).toBe(0);
    for (const call of [() => a.alloc(1), () => a.tryAlloc(1), () => a.allocZeroed(1), () => a.free(v), () => a.reset(), () => a.purge(), () => a.prefault(1), () => a.stats()]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    }
  });

  it('a full reservation fails with ENOMEM; tryAlloc returns null; nothing earlier is lost', () => {
    using a = new Arena({ reserve: 4 * MiB, chunkSize: MiB, hugePages: false });
    const blocks: Uint8Array[] = [];
    for (;;) {
      const v = a.tryAlloc(MiB / 2);
      if (v === null) break;
      v.fill(blocks.length + 1);
      blocks.push(v);
    }
    expect(blocks.length).toBe(8);
    let err: (Error & { code?: string }) | undefined;
    try {
      a.alloc(MiB / 2);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('ENOMEM');
    blocks.forEach((v, i) => expect(v.every((b) => b === i + 1)).toBe(true));
    // Small blocks still fit in no free page: also null, not a crash.
    expect(a.tryAlloc(16)).toBeNull();
    a.free(blocks[0]!);
    expect(a.tryAlloc(16)).not.toBeNull();
  });
});
