/**
 * Mapping.resize() with mremap: in place or moved, private and shared, the
 * buffers over the old range kept valid.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { memfd, mmap, pageSize, type Mapping } from '../lib/index';
import { atFreeRange as placeAtFreeRange, inMaps } from './helpers/features';

const page = pageSize();

describe('resize()', () => {
  /** A mapping of `pages` pages at the bottom of a free range of `room` pages (a range the kernel just handed out and took back). */
  function atFreeRange(pages: number, room: number, options: { shared?: boolean } = {}): Mapping {
    return placeAtFreeRange(room * page, (at) => mmap(pages * page, { address: at, ...options }));
  }

  it('grows and shrinks in place; the bytes stay; ENOMEM when the next range is taken and mayMove is not given', () => {
    const m = atFreeRange(4, 64);
    const at = m.address;
    m.view(0, page)[3] = 3;
    expect(m.resize(16 * page)).toBe(at);
    expect(m.length).toBe(16 * page);
    expect(m.view(0, page)[3]).toBe(3);
    m.view(15 * page, 1)[0] = 15;
    expect(m.resize(8 * page)).toBe(at);
    expect(m.length).toBe(8 * page);
    // The bytes cut off stay mapped (zero pages) while the view over page 15
    // may be alive, so growing in place is impossible now: ENOMEM, or a move.
    expect(inMaps(at + BigInt(15 * page))).toBe(true);
    expect(() => m.resize(12 * page)).toThrow(expect.objectContaining({ code: 'ENOMEM', syscall: 'mremap' }));
    const moved = m.resize(12 * page, { mayMove: true });
    expect(moved).not.toBe(at);
    expect(m.view(0, page)[3]).toBe(3);
    m.unmap();
  });

  it('moving while a view is held: the view is detached, the old range stays mapped (empty) until it is gone, the data moves', () => {
    const m = atFreeRange(4, 8);
    const next = mmap(page, { address: m.address + BigInt(4 * page) });
    const old = m.address;
    const held = m.view();
    held[100] = 42;
    m.resize(16 * page, { mayMove: true });
    expect(held.byteLength).toBe(0);
    expect(m.view()[100]).toBe(42);
    expect(inMaps(old)).toBe(true);
    next.unmap();
    m.unmap();
  });

  it('a shared mapping moved while a view is held keeps the old range over the same pages', () => {
    const shm = memfd('pw-resize', 16 * page);
    const m = shm.map({ length: 4 * page });
    const held = m.view();
    held[1] = 11;
    let probe: Mapping | null = null;
    try {
      probe = mmap(page, { address: m.address + BigInt(4 * page) });
    } catch {
      // Already taken: in place is impossible either way.
    }
    m.resize(16 * page, { mayMove: true });
    expect(held.byteLength).toBe(0);
    expect(m.view(0, page)[1]).toBe(11);
    m.view(0, page)[2] = 22;
    const again = shm.map({ length: page });
    expect(again.view()[2]).toBe(22);
    again.unmap();
    probe?.unmap();
    m.unmap();
    shm.close();
  });

  it('shrinking under a live view: the view is detached, the cut bytes stay mapped as zero pages until it is gone; a file mapping grows only within its file', () => {
    const m = mmap(8 * page);
    const tail = m.view(6 * page, page);
    tail[0] = 9;
    const at = m.address;
    expect(m.resize(4 * page)).toBe(at);
    expect(tail.byteLength).toBe(0);
    expect(m.length).toBe(4 * page);
    expect(inMaps(at + BigInt(6 * page))).toBe(true);
    expect(() => m.view(5 * page)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    m.unmap();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-grow-'));
    const fd = fs.openSync(path.join(dir, 'f'), 'w+');
    try {
      fs.ftruncateSync(fd, 2 * page);
      const f = mmap(2 * page, { shared: true, file: { fd } });
      expect(() => f.resize(4 * page, { mayMove: true })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      fs.ftruncateSync(fd, 4 * page);
      f.resize(4 * page, { mayMove: true });
      f.view()[3 * page] = 1;
      expect(fs.readFileSync(path.join(dir, 'f'))[3 * page]).toBe(1);
      f.unmap();
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
