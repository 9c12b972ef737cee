/**
 * Crashes found by the reliability work, each fixed at its depth and kept
 * fixed here. Paths that crashed before the fix run in a child process, so a
 * regression shows as a signal in the assertion instead of killing the runner.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mmap, pageSize, maxArrayBufferLength } from '../lib/index';
import { runChild, DIST } from './helpers/child';
import { unmeasurable } from './helpers/emulation';

const page = pageSize();
// With the map count full, V8 itself dies if it needs a mapping (a JIT zone,
// a GC thread's malloc arena): no background threads, no JIT in such children.
const MAP_COUNT_NODE_ARGS = ['--single-threaded', '--jitless'];
const NATIVE = JSON.stringify(path.join(path.dirname(DIST), 'native', 'binding.js'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-rel-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Node 22+ accepts ArrayBuffers up to 2^53 - 1 bytes: nothing a mapping can
// be is refused there, so the refusal path exists on Node 20 only.
describe.skipIf(maxArrayBufferLength() > 2 ** 32)('native regionBuffer refused by Node (ERR_BUFFER_TOO_LARGE)', () => {
  it("throws Node's ERR_BUFFER_TOO_LARGE and keeps the region alive (was: a double free and an abort)", () => {
    const r = runChild(`
      const { native } = require(${NATIVE});
      const C = native.constants;
      const page = pw.pageSize();
      const max = require('node:buffer').constants.MAX_LENGTH;
      const region = native.mmap(max + 2 * page, C.PROT_READ | C.PROT_WRITE, C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_NORESERVE, -1, 0, 0n, 0);
      const out = [];
      for (let i = 0; i < 3; i++) {
        try { native.regionBuffer(region, 0, max + 1); out.push('made'); }
        catch (e) { out.push(e.name + ' ' + e.code); }
      }
      globalThis.gc();
      const tail = new Uint8Array(native.regionBuffer(region, max, page));
      tail[0] = 7;
      out.push(String(native.mincore(region, max, page, null)));
      out.push(String(native.munmap(region)));
      out.push(String(tail.byteLength));
      console.log(out.join('|'));
    `, { nodeArgs: ['--expose-gc'] });
    expect(r.signal).toBe(null);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('Error ERR_BUFFER_TOO_LARGE|Error ERR_BUFFER_TOO_LARGE|Error ERR_BUFFER_TOO_LARGE|1|1|0\n');
    expect(r.status).toBe(0);
  });
});

describe('file mappings past the end of the file', () => {
  it('refuses a mapping with a page wholly past EOF (was: SIGBUS on access); the last partial page is fine', () => {
    const file = path.join(dir, 'short.bin');
    fs.writeFileSync(file, Buffer.alloc(page + 10, 0x61));
    const fd = fs.openSync(file, 'r+');
    try {
      expect(() => mmap(3 * page, { file: { fd }, shared: true })).toThrowError(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
      expect(() => mmap(page, { file: { fd, offset: 2 * page } })).toThrowError(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
      const m = mmap(2 * page, { file: { fd }, shared: true });
      const v = m.view();
      expect(v[page + 9]).toBe(0x61);
      expect(v[page + 10]).toBe(0); // past EOF inside the last page: zero, no signal
      expect(v[2 * page - 1]).toBe(0);
      m.unmap();
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a file truncated after mapping is a SIGBUS on access (cannot be guarded): the child dies of it', () => {
    const r = runChild(`
      const fs = require('node:fs');
      const file = ${JSON.stringify(path.join(dir, 'truncated.bin'))};
      const page = pw.pageSize();
      fs.writeFileSync(file, Buffer.alloc(4 * page, 1));
      const fd = fs.openSync(file, 'r+');
      const m = pw.mmap(4 * page, { file: { fd }, shared: true });
      const v = m.view();
      console.log('before', v[3 * page]);
      fs.ftruncateSync(fd, page);
      console.log('truncated', v[0]);
      v[3 * page] = 2;
      console.log('after');
    `);
    expect(r.stdout).toBe('before 1\ntruncated 1\n');
    expect(r.signal).toBe('SIGBUS');
  });
});

describe('hugetlbfs without a reservation', () => {
  it('refuses hugePages with noReserve (was: SIGBUS on first touch with an empty pool)', () => {
    expect(() => mmap(page, { hugePages: true, noReserve: true })).toThrowError(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
    );
  });
});

describe('mprotect that fails part-way', () => {
  // The sanitizer runtime (npm run test:asan) needs mappings of its own.
  // The map count is the kernel's for the whole process: under an emulator it
  // includes the emulator's own mappings, which then fail inside it (SIGABRT).
  it.skipIf(!!process.env.PAGEWISE_ASAN || unmeasurable('ownAddressSpace', 'mprotect at a full vm.max_map_count in a child'))('at vm.max_map_count the range is treated as unwritable, so no view is made over it (was: SIGSEGV)', () => {
    // Page 0 gets MADV_DONTFORK so it cannot merge with pages 1..3. With the
    // map count full, protect('r', 0, 2 pages) changes page 0, then fails to
    // split pages 1..3: the kernel applied part of the call.
    const r = runChild(`
      const { native } = require(${NATIVE});
      const C = native.constants;
      const page = pw.pageSize();
      const m = pw.mmap(4 * page);
      m.advise('dontfork', 0, page);
      // Warm-up: the paths taken while the count is full run once before.
      const warm = pw.mmap(2 * page);
      warm.protect('r', page, page);
      try { warm.view(page, 8); } catch (e) {}
      try { warm.protect('r', 0, 4 * page); } catch (e) {}
      warm.unmap();
      const fill = [];
      let fillErr;
      for (let i = 0; ; i++) {
        try { fill.push(native.mmap(page, i % 2 ? C.PROT_READ : C.PROT_NONE, C.MAP_PRIVATE | C.MAP_ANONYMOUS, -1, 0, 0n, 0)); }
        catch (e) { fillErr = e; break; }
      }
      let protectErr;
      try { m.protect('r', 0, 2 * page); } catch (e) { protectErr = e; }
      for (const f of fill) native.munmap(f);
      const out = [fillErr.code, fillErr.syscall, protectErr && protectErr.code, protectErr && protectErr.syscall, m.protection(0), m.protection(page)];
      try { m.view(0, 8)[0] = 1; out.push('wrote'); } catch (e) { out.push(e.code); }
      m.protect('rw');
      m.view(0, 8)[0] = 1;
      out.push(String(m.view(0, 8)[0]));
      console.log(out.join(' '));
    `, { nodeArgs: MAP_COUNT_NODE_ARGS });
    if (r.signal) console.log(r.stderr);
    expect(r.signal).toBe(null);
    expect(r.stdout).toBe('ENOMEM mmap ENOMEM mprotect r r ERR_INVALID_STATE 1\n');
    expect(r.status).toBe(0);
  });
});

describe('names that are Object.prototype keys', () => {
  it("'toString', 'constructor', '__proto__' as advice or protection are TypeErrors (was: an internal error from native)", () => {
    const m = mmap(page);
    try {
      for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
        const invalid = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
        expect(() => m.advise(name as never)).toThrowError(invalid);
        expect(() => m.protect(name as never)).toThrowError(invalid);
        expect(() => mmap(page, { prot: name as never })).toThrowError(invalid);
      }
    } finally {
      m.unmap();
    }
  });
});
