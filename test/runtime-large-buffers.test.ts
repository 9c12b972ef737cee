/**
 * ArrayBuffers over more than 4 GiB. Node 20 allows at most 2^32 bytes in
 * one ArrayBuffer; Node 22 (V8 12.4) raised the limit to 2^53 - 1. The limit
 * is read at run time (`maxArrayBufferLength()`, `buffer.constants.MAX_LENGTH`),
 * and each test takes the branch that matches the running Node:
 * - above 4 GiB allowed: `Mapping.buffer`, `view()` and an arena block over a
 *   5 GiB mapping work, and their bytes are the mapping's;
 * - not allowed: they throw the documented RangeError (`ERR_OUT_OF_RANGE`)
 *   before any system call, and windows past 4 GiB still work.
 * The mappings are `MAP_NORESERVE` and only a few pages are touched, so the
 * test costs address space, not memory. CI runs this file on Node 20 (npm
 * test) and on Node 22, 24 and 26 (scripts/ci-runtimes.sh).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Arena, Mapping, maxArrayBufferLength, mmap, pageSize } from '../lib/index';
import { ifMeasurable } from './helpers/emulation';

const GiB = 2 ** 30;
const LARGE = 5 * GiB;
const page = pageSize();
const max = maxArrayBufferLength();
const major = Number(process.versions.node.split('.')[0]);
const large = max >= LARGE;
const opened: { unmap?: () => void; close?: () => void }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) (o.unmap ?? o.close)?.call(o);
});
const track = <T extends Mapping | Arena>(x: T): T => {
  opened.push(x as never);
  return x;
};

describe(`ArrayBuffers over 4 GiB on Node ${process.version} (largest ArrayBuffer: ${max} bytes)`, () => {
  it('the limit read at run time is the one this Node version has', () => {
    // The claim the rest of the file depends on: 2^32 on Node 20, more from 22 on.
    if (major >= 22) expect(max).toBeGreaterThan(2 ** 32);
    else expect(max).toBe(2 ** 32);
    expect(large).toBe(major >= 22);
  });

  it.runIf(large)('Node 22+: Mapping.buffer covers all 5 GiB, and its bytes are the mapping\'s', () => {
    const m = track(mmap(LARGE, { noReserve: true }));
    const b = m.buffer;
    expect(b.byteLength).toBe(LARGE);
    expect(m.buffer).toBe(b); // cached
    const all = new Uint8Array(b);
    const far = 4 * GiB + 3 * page + 5; // past 2^32: an offset a 32-bit length could not reach
    all[far] = 0xab;
    all[LARGE - 1] = 0xcd;
    const w = m.view(far - 5, page);
    expect(w[5]).toBe(0xab);
    ifMeasurable('mincore', 'two pages resident after two writes', () => expect(m.residentPages()).toBe(2));
    m.unmap();
    expect(b.byteLength).toBe(0);
    expect(all.byteLength).toBe(0);
    expect(w.byteLength).toBe(0);
  });

  it.runIf(large)('Node 22+: view() of the whole mapping and windows past 4 GiB', () => {
    const m = track(mmap(LARGE, { noReserve: true }));
    const v = m.view();
    expect(v.byteLength).toBe(LARGE);
    const off = 4 * GiB + page;
    v[off] = 7;
    expect(m.view(off, page)[0]).toBe(7);
    const tail = m.view(LARGE - 2 * page);
    expect(tail.byteLength).toBe(2 * page);
    tail[tail.byteLength - 1] = 9;
    expect(v[LARGE - 1]).toBe(9);
    m.advise('dontneed', off, page);
    expect(v[off]).toBe(0);
    m.unmap();
    expect(v.byteLength).toBe(0);
    expect(tail.byteLength).toBe(0);
  });

  it.runIf(large)('Node 22+: the arena hands out and frees a 5 GiB block', () => {
    const a = track(new Arena({ reserve: 8 * GiB, hugePages: false }));
    const big = a.alloc(LARGE);
    expect(big.byteLength).toBe(LARGE);
    const far = 4 * GiB + 7 * page;
    big[far] = 3;
    expect(big[far]).toBe(3);
    expect(a.addressOf(big) % BigInt(page)).toBe(0n);
    a.free(big);
    expect(big.byteLength).toBe(0); // large blocks are detached on free
    const again = a.allocZeroed(LARGE);
    expect(again[far]).toBe(0); // purged on free: the old byte is gone
    a.close();
    expect(again.byteLength).toBe(0);
  });

  it.runIf(large)('Node 22+: an arena chunk may be larger than 4 GiB', () => {
    const a = track(new Arena({ reserve: 12 * GiB, chunkSize: 6 * GiB, hugePages: false }));
    const x = a.alloc(64);
    x[63] = 1;
    expect(x[63]).toBe(1);
    a.close();
  });

  it.runIf(!large)('Node 20: buffer, view() and arena blocks over the limit throw the documented RangeError', () => {
    const m = track(mmap(LARGE, { noReserve: true }));
    let err: unknown;
    try {
      void m.buffer;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect(err).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(() => m.view(0, max + 1)).toThrow(RangeError);
    // view() without a length stops at the limit; windows past it still work.
    expect(m.view().byteLength).toBe(max);
    const w = m.view(4 * GiB + page, page);
    w[0] = 1;
    expect(m.view(4 * GiB, 2 * page)[page]).toBe(1);
    m.unmap();
    expect(w.byteLength).toBe(0);
    const a = track(new Arena({ reserve: 8 * GiB, hugePages: false }));
    expect(() => a.alloc(LARGE)).toThrow(RangeError);
    expect(() => new Arena({ reserve: 12 * GiB, chunkSize: 6 * GiB })).toThrow(RangeError);
    a.close();
  });
});
