import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { native } from '../lib/native/binding';
import { describe, expect, it } from 'vitest';
import { mmap, pageSize, maxArrayBufferLength, Mapping, constants as C } from '../lib/index';
import { runChild, DIST } from './helpers/child';
import { ASAN, sanitizerSkips } from './helpers/sanitizer';
import { ifMeasurable } from './helpers/emulation';

const page = pageSize();
const GiB = 1024 * 1024 * 1024;

/** The `/proc/self/maps` line covering `address`, or null (adjacent anonymous VMAs merge, so do not look for a start). */
function mapsLine(address: bigint): string | null {
  return (
    fs
      .readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .find((l) => {
        const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l);
        return m !== null && BigInt(`0x${m[1]}`) <= address && address < BigInt(`0x${m[2]}`);
      }) ?? null
  );
}
/** Whether any mapping covers `address`. */
function mapsHas(address: bigint): boolean {
  return mapsLine(address) !== null;
}
/**
 * After unmap() the range is gone, or (while an ArrayBuffer made over it may
 * still be reachable) held as fresh anonymous read-write zero pages until the
 * last one is released (DESIGN.md, Safety).
 */
function goneOrPlaceholder(address: bigint): boolean {
  const line = mapsLine(address);
  return line === null || / rw-p [0-9a-f]+ 00:00 0 /.test(line);
}

describe('views and unmap', () => {
  it('detaches every view on unmap; unmap twice is harmless', () => {
    const m = mmap(8 * page);
    const whole = new Uint8Array(m.buffer);
    const window = m.view(page, 2 * page);
    whole[0] = 1;
    window[0] = 2;
    expect(whole[page]).toBe(2);
    expect(mapsHas(m.address)).toBe(true);
    expect(m.unmap()).toBe(2);
    expect(whole.byteLength).toBe(0);
    expect(window.byteLength).toBe(0);
    expect(whole[0]).toBeUndefined();
    expect(goneOrPlaceholder(m.address)).toBe(true);
    expect(m.unmap()).toBe(0);
    expect(m.mapped).toBe(false);
  });

  it('refuses use of an unmapped mapping with ERR_INVALID_STATE', () => {
    const m = mmap(page);
    m.unmap();
    for (const f of [() => m.buffer, () => m.view(), () => m.advise('dontneed'), () => m.protect('r'), () => m.residentPages(), () => m.lock(), () => m.sync()]) {
      expect(f).toThrowError(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_STATE' }));
    }
  });

  it("protect('none') and protect('r') detach views over the range; 'rw' allows new ones", () => {
    const m = mmap(4 * page);
    try {
      const a = m.view(0, page);
      const b = m.view(2 * page, page);
      m.protect('none', 0, page);
      expect(a.byteLength).toBe(0);
      expect(b.byteLength).toBe(page);
      expect(() => m.view(0, 10)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      expect(() => m.buffer).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      m.protect('r', 2 * page, page);
      expect(b.byteLength).toBe(0);
      expect(m.protection(2 * page)).toBe('r');
      m.protect('rw');
      const c = m.view(0, page);
      c[0] = 9;
      expect(new Uint8Array(m.buffer)[0]).toBe(9);
    } finally {
      m.unmap();
    }
  });

  // Node 22+ allows ArrayBuffers up to 2^53 - 1 bytes: no mapping is larger (test/runtime-large-buffers.test.ts covers > 4 GiB there).
  it.skipIf(maxArrayBufferLength() >= 2 ** 48)('a mapping larger than one ArrayBuffer: buffer throws RangeError, windows work', () => {
    const max = maxArrayBufferLength();
    const m = mmap(max + 2 * page, { noReserve: true });
    try {
      expect(() => m.buffer).toThrowError(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
      const tail = m.view(max, 2 * page);
      tail[0] = 7;
      expect(m.residentPages(max, page)).toBe(1);
      expect(() => m.view(0, max + 1)).toThrowError(RangeError);
    } finally {
      m.unmap();
    }
  });

  it('reserves 64 GiB with MAP_NORESERVE on a machine with less RAM', () => {
    const m = mmap(64 * GiB, { noReserve: true });
    try {
      expect(m.length).toBe(64 * GiB);
      const last = m.view(64 * GiB - page, page);
      last[page - 1] = 1;
      expect(last[page - 1]).toBe(1);
      // mincore where it answers per page of this size (qemu-user at a guest
      // page larger than the host's writes one byte per host page: past the vector).
      ifMeasurable('mincore', 'mincore over 64 GiB', () => {
        expect(m.residentPages(64 * GiB - page, page)).toBe(1);
        expect(m.residentPages()).toBe(1);
      });
    } finally {
      m.unmap();
    }
  });

  it('maps a file at an offset above 4 GiB (sparse file)', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-')), 'sparse.bin');
    const fd = fs.openSync(file, 'w+');
    try {
      const offset = 5 * GiB;
      fs.writeSync(fd, Buffer.from('hello above 4 GiB'), 0, 17, offset + 100);
      const m = mmap(page, { file: { fd, offset }, shared: true });
      try {
        expect(Buffer.from(m.view(100, 17)).toString()).toBe('hello above 4 GiB');
        m.view(0, 5).set(Buffer.from('WRITE'));
        m.sync();
        const back = Buffer.alloc(5);
        fs.readSync(fd, back, 0, 5, offset);
        expect(back.toString()).toBe('WRITE');
      } finally {
        m.unmap();
      }
    } finally {
      fs.closeSync(fd);
      fs.rmSync(path.dirname(file), { recursive: true });
    }
  });

  it('MAP_FIXED_NOREPLACE over an existing mapping fails with EEXIST', () => {
    // Five pages the kernel just handed out and took back: free address
    // space (whatever /proc/self/maps shows; under qemu-user the emulator's
    // own mappings are hidden from it), four of them mapped again in place.
    const hole = mmap(5 * page, { prot: 'none' });
    const base = hole.address;
    hole.unmap();
    const m = mmap(4 * page, { address: base });
    try {
      expect(m.address).toBe(base);
      expect(() => mmap(page, { address: m.address + BigInt(page) })).toThrowError(
        expect.objectContaining({ code: 'EEXIST', syscall: 'mmap', errno: -os.constants.errno.EEXIST }),
      );
      // The fifth page is still free: NOREPLACE places a mapping exactly there.
      const at = base + BigInt(4 * page);
      const n = mmap(page, { address: at });
      expect(n.address).toBe(at);
      expect(mapsHas(at)).toBe(true);
      n.unmap();
    } finally {
      m.unmap();
    }
  });
});

describe('crashing paths run in a child', () => {
  it('a write to PROT_READ memory through unsafe.view kills the child with SIGSEGV', () => {
    const r = runChild(`
      const m = pw.mmap(pw.pageSize());
      m.protect('r');
      const v = pw.unsafe.view(m);
      console.log('before');
      v[0] = 1;
      console.log('after');
    `);
    expect(r.stdout).toBe('before\n');
    expect(r.signal).toBe('SIGSEGV');
  });

  it('the safe API refuses the same write instead of crashing', () => {
    const r = runChild(`
      const m = pw.mmap(pw.pageSize());
      m.protect('r');
      try { m.view()[0] = 1; } catch (e) { console.log(e.code); }
      console.log('alive');
    `);
    expect(r.stdout).toBe('ERR_INVALID_STATE\nalive\n');
    expect(r.status).toBe(0);
  });

  it.skipIf(sanitizerSkips('RLIMIT_AS in a child', ASAN.rlimitAs))('a reservation over RLIMIT_AS fails with ENOMEM, not a crash', () => {
    // 4 GiB address-space limit: Node itself fits; an 8 GiB reservation does not.
    const r = runChild(
      `
      try { pw.mmap(8 * 1024 ** 3, { noReserve: true }); console.log('mapped'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall, errno: e.errno, name: e.name })); }
    `,
      { ulimit: ['-v', String(4 * 1024 * 1024)] },
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ code: 'ENOMEM', syscall: 'mmap', errno: -os.constants.errno.ENOMEM, name: 'Error' });
  });
});

describe('worker_threads', () => {
  it('load the addon, map and unmap, and exit cleanly, several at once', async () => {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const pw = require(${JSON.stringify(DIST)});
      const page = pw.pageSize();
      const m = pw.mmap(64 * page);
      m.advise('nohugepage');
      const v = m.view();
      for (let i = 0; i < 64; i++) v[i * page] = i;
      const resident = m.residentPages();
      const leak = pw.mmap(16 * page); // left for the environment teardown to unmap
      leak.view()[0] = 1;
      m.unmap();
      parentPort.postMessage({ resident, detached: v.byteLength });
    `;
    const results = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<{ resident: number; detached: number; exit: number }>((resolve, reject) => {
            const w = new Worker(code, { eval: true });
            let msg: { resident: number; detached: number } | undefined;
            w.on('message', (m) => (msg = m));
            w.on('error', reject);
            w.on('exit', (exit) => (msg ? resolve({ ...msg, exit }) : reject(new Error(`worker exited ${exit} without a result`))));
          }),
      ),
    );
    for (const r of results) {
      expect({ detached: r.detached, exit: r.exit }).toEqual({ detached: 0, exit: 0 });
      ifMeasurable('mincore', 'residency counted in a worker (mincore)', () => expect(r.resident).toBe(64));
    }
  });

  it('a worker terminated mid-work leaves none of its memory behind (ranges gone, or zero placeholders with nothing resident)', async () => {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const pw = require(${JSON.stringify(DIST)});
      const ms = [];
      for (let i = 0; i < 50; i++) { const m = pw.mmap(1 << 20, { noReserve: true }); m.protect('none', 0, pw.pageSize()); m.view(pw.pageSize(), 8)[0] = 1; ms.push(m); }
      parentPort.postMessage(ms.map((m) => m.address.toString(16)));
      setInterval(() => {}, 1000);
    `;
    const w = new Worker(code, { eval: true });
    const addresses = await new Promise<string[]>((resolve) => w.once('message', resolve));
    expect(addresses).toHaveLength(50);
    for (const a of addresses) expect(mapsHas(BigInt(`0x${a}`))).toBe(true);
    await w.terminate();
    // terminate() gives the worker no last JS to tell which of its live views
    // moved to another thread, so ranges with a view still alive are kept as
    // zero pages (never unmapped: such a view may be held elsewhere), and
    // none keeps memory (docs/reliability.md).
    // Each mapping began with a '---p' page (protect('none', 0, page)): none
    // is left in that shape. A range may also have been reused since.
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    for (const a of addresses) {
      const at = BigInt(`0x${a}`);
      expect(maps.includes(`${a}-${(at + BigInt(page)).toString(16)} ---p`)).toBe(false);
      // (Its range may be ours still, zero-filled, or reused by anything the process maps since.)
      expect(goneOrPlaceholder(at) || mapsLine(at) !== null).toBe(true);
    }
  });
});

it('Mapping cannot be forged from JS', () => {
  expect(() => new (Mapping as unknown as new (...a: unknown[]) => Mapping)({}, 10, 'rw', page, {})).toThrow();
});

describe('native layer guards (what lib/ never lets through; memory safety must not depend on it)', () => {
  it('madvise and mprotect refuse a non-region, a range past the end, bad numbers and an unmapped region, with an internal error', () => {
    const m = mmap(2 * page);
    const r = m.region;
    const internal = (what: RegExp): unknown => expect.objectContaining({ code: 'ERR_PAGEWISE_INTERNAL', message: expect.stringMatching(what) });
    const calls: [string, (...a: unknown[]) => unknown, number][] = [
      ['madvise', native.madvise as (...a: unknown[]) => unknown, C.MADV_NORMAL!],
      ['mprotect', native.mprotect as (...a: unknown[]) => unknown, C.PROT_READ! | C.PROT_WRITE!],
    ];
    try {
      for (const [name, fn, value] of calls) {
        expect(() => fn()).toThrowError(internal(/argument is not a/) as Error);
        expect(() => fn({}, 0, page, value)).toThrowError(internal(/argument is not a/) as Error);
        expect(() => fn(r, 0, 3 * page, value)).toThrowError(internal(/range outside the region/) as Error);
        expect(() => fn(r, page, 2 * page, value)).toThrowError(internal(/range outside the region/) as Error);
        expect(() => fn(r, 0.5, page, value)).toThrowError(internal(/range outside the region/) as Error);
        expect(() => fn(r, -page, page, value)).toThrowError(internal(/range outside the region/) as Error);
        expect(() => fn(r, 0, page)).toThrowError(internal(new RegExp(`${name}: bad`)) as Error);
        expect(() => fn(r, 0, page, 1.5)).toThrowError(internal(new RegExp(`${name}: bad`)) as Error);
        expect(() => fn(r, 0, page, value)).not.toThrow();
      }
      m.view().fill(7);
      expect(m.view()[2 * page - 1]).toBe(7);
    } finally {
      m.unmap();
    }
    for (const [, fn, value] of calls) expect(() => fn(r, 0, page, value)).toThrowError(internal(/region is unmapped/) as Error);
  });
});
