/**
 * Never crash when a pointer escapes pagewise's knowledge (issue 11): each
 * case that used to kill the process runs in a child, and the test asserts
 * how the child ended (exit 0, no signal) and what it printed.
 *
 * transfer() is ES2024: on by default from Node 21; Node 20 needs
 * --harmony-rab-gsab-transfer (the runtime matrix runs these natively on 22+).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mmap, pageSize, residency, residencyOfRange, Mapping, maxArrayBufferLength, Arena } from '../lib/index';
import { runChild, type ChildResult } from './helpers/child';
import { underSanitizer } from './helpers/sanitizer';
import { underEmulation } from './helpers/emulation';

const page = pageSize();
const nativeTransfer = Number(process.versions.node.split('.')[0]) >= 21;
/** Node flags that give the child ArrayBuffer.prototype.transfer. */
const TRANSFER = nativeTransfer ? ['--expose-gc'] : ['--expose-gc', '--harmony-rab-gsab-transfer'];

/** Runs `code` in a child; `out` is printed as JSON at exit. */
function child(code: string, nodeArgs: string[] = TRANSFER, timeoutMs = 600_000): { r: ChildResult; out: Record<string, unknown> } {
  const r = runChild(
    `const out = {}; const P = pw.pageSize();
     const settle = async () => { for (let i = 0; i < 8; i++) { globalThis.gc?.(); await new Promise((res) => setImmediate(res)); } };
     const inMaps = (a) => require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').some((l) => { const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l); return m && BigInt('0x' + m[1]) <= a && a < BigInt('0x' + m[2]); });
     process.on('exit', () => console.log('OUT ' + JSON.stringify(out, (k, v) => typeof v === 'bigint' ? String(v) : v)));
     ${code}`,
    { nodeArgs, timeoutMs },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('OUT '));
  return { r, out: line ? (JSON.parse(line.slice(4)) as Record<string, unknown>) : {} };
}

function expectClean(res: { r: ChildResult }): void {
  expect({ signal: res.r.signal, status: res.r.status, stderr: res.r.status === 0 ? '' : res.r.stderr.slice(-2000) }).toEqual({ signal: null, status: 0, stderr: '' });
}

describe('transfer() moves a backing store out of pagewise (1)', () => {
  it('unmap() after transfer(): the transferred buffer reads and writes zero pages; the range goes when it is collected', () => {
    const res = child(`
      (async () => {
        const m = pw.mmap(4 * P);
        m.view()[5] = 7;
        let t = m.view().buffer.transfer();
        out.before = new Uint8Array(t)[5];
        const at = m.address;
        out.detached = m.unmap();
        (() => {
          const u = new Uint8Array(t);
          out.afterUnmap = u[5];
          u[0] = 1; u[4 * P - 1] = 2;
          out.written = u[0] + u[4 * P - 1];
        })();
        out.heldWhileAlive = inMaps(at);
        t = null;
        await settle();
        out.goneAfterGc = !inMaps(at);
      })();
    `);
    expectClean(res);
    // transfer() detached the second view's buffer; unmap detached the first.
    expect(res.out).toEqual({ before: 7, detached: 1, afterUnmap: 0, written: 3, heldWhileAlive: true, goneAfterGc: true });
  });

  it("protect() refuses to take write access from a range whose buffer escaped, with ERR_INVALID_STATE; 'rw' and the untouched rest still work", () => {
    const res = child(`
      const m = pw.mmap(8 * P);
      const t = m.view(0, 2 * P).buffer.transfer();
      for (const p of ['r', 'none']) {
        try { m.protect(p, 0, P); out[p] = 'allowed'; } catch (e) { out[p] = [e.name, e.code]; }
      }
      m.protect('rw', 0, 2 * P);
      m.protect('none', 4 * P, 4 * P);
      new Uint8Array(t)[0] = 9;
      out.write = new Uint8Array(t)[0];
      out.protection = m.protection(0);
      m.unmap();
    `);
    expectClean(res);
    expect(res.out).toEqual({ r: ['TypeError', 'ERR_INVALID_STATE'], none: ['TypeError', 'ERR_INVALID_STATE'], write: 9, protection: 'rw' });
  });

  it('a worker transfers a view out and exits: the memory stays usable by the thread that holds it', () => {
    const res = child(`
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const { parentPort } = require('node:worker_threads');
        const pw = require(\${JSON.stringify(require.resolve('${path.join(__dirname, '..', 'dist', 'lib', 'index.js')}'))});
        const m = pw.mmap(16 * pw.pageSize());
        const v = m.view(); v[3] = 42;
        // Node 22+ refuses to post an external ArrayBuffer (DataCloneError);
        // transfer() first gives a plain one over the same memory, which it moves.
        const t = v.buffer.transfer();
        parentPort.postMessage(t, [t]);
      \`, { eval: true });
      w.once('message', (ab) => {
        w.once('exit', async () => {
          await settle();
          const u = new Uint8Array(ab);
          out.read = u[3];
          u.fill(5);
          out.sum = u.reduce((a, b) => a + b, 0);
        });
      });
    `);
    expectClean(res);
    expect(res.out).toEqual({ read: 42, sum: 5 * 16 * page });
  });
});

describe('async work in flight when the memory goes (2)', () => {
  const cases: Record<string, string> = {
    'crypto.randomFill + unmap()': `const m = pw.mmap(64 << 20); require('crypto').randomFill(m.view(), (e) => { out.done = !e; }); setTimeout(() => { m.unmap(); out.unmapped = true; }, 1);`,
    'fs.write + unmap()': `const fs = require('fs'); const f = require('path').join(require('os').tmpdir(), 'pw-fswrite-' + process.pid); const fd = fs.openSync(f, 'w'); const m = pw.mmap(64 << 20); m.view().fill(3); fs.write(fd, m.view(), (e, n) => { out.done = !e && n === 64 << 20; fs.closeSync(fd); fs.unlinkSync(f); }); setImmediate(() => { m.unmap(); out.unmapped = true; });`,
    'crypto.randomFill + Arena.close()': `const a = new pw.Arena({ reserve: 256 << 20 }); const v = a.alloc(64 << 20); require('crypto').randomFill(v, (e) => { out.done = !e; }); setTimeout(() => { a.close(); out.unmapped = true; }, 1);`,
    "crypto.randomFill + reset({ decommit: true })": `const a = new pw.Arena({ reserve: 256 << 20 }); const v = a.alloc(64 << 20); require('crypto').randomFill(v, (e) => { out.done = !e; }); setTimeout(() => { a.reset({ decommit: true }); out.unmapped = true; }, 1);`,
  };
  for (const [name, code] of Object.entries(cases)) {
    it(name, () => {
      const res = child(code);
      expectClean(res);
      expect(res.out).toEqual({ done: true, unmapped: true });
    });
  }
});

it('Buffer#fill whose value unmaps the mapping while fill holds the pointer (3)', () => {
  const res = child(`
    const m = pw.mmap(64 * P);
    const b = Buffer.from(m.view().buffer);
    b.fill({ valueOf() { m.unmap(); return 1; } });
    out.mapped = m.mapped;
    out.length = b.length;
  `);
  expectClean(res);
  expect(res.out).toEqual({ mapped: false, length: 0 });
});

it('Mapping state cannot be written: length, pageSize, kind, label (4)', () => {
  const res = child(`(() => {
    'use strict';
    const m = pw.mmap(16 * P);
    m.protect('none', 4 * P, 4 * P);
    for (const k of ['length', 'pageSize', 'kind', 'label', 'address']) {
      try { m[k] = 1; out[k] = 'written'; } catch (e) { out[k] = e.name; }
    }
    try { Object.defineProperty(m, 'length', { value: 2 * P }); } catch (e) { out.define = e.name; }
    m.protect('rw', 0, 2 * P);
    try { m.view(4 * P, P)[0] = 1; out.view = 'made'; } catch (e) { out.view = e.code; }
    out.len = Object.getOwnPropertyDescriptor(pw.Mapping.prototype, 'length').get.call(m);
    out.prot = m.protection(4 * P);
  })();`);
  expectClean(res);
  // Own properties can be added (the object is not frozen) but change nothing pagewise reads.
  expect(res.out.view).toBe('ERR_INVALID_STATE');
  expect(res.out.len).toBe(16 * page);
  expect(res.out.prot).toBe('none');
  for (const k of ['length', 'pageSize', 'kind', 'label', 'address']) expect(res.out[k]).toBe('TypeError');
});

describe.skipIf(underSanitizer())('vm.max_map_count headroom (6)', () => {
  it('a synchronous loop of dropped file mappings ends in ENOMEM with the hint, in a normal node process, and the process goes on', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-maps-')), 'f');
    fs.writeFileSync(file, Buffer.alloc(page, 1));
    try {
      const res = child(`
        const fd = require('fs').openSync(${JSON.stringify(file)}, 'r+');
        const { native } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'lib', 'native', 'binding.js'))});
        const info = native.mapHeadroom();
        let i = 0;
        try { for (; i < 200000; i++) pw.mmap(P, { file: { fd } }).view()[0]; out.ended = 'no error'; }
        catch (e) { out.error = { code: e.code, syscall: e.syscall, errno: e.errno, hint: /vm\\.max_map_count/.test(e.message) }; }
        out.made = i;
        const after = native.mapHeadroom();
        out.withinMargin = after.count <= after.limit - after.margin && after.count > after.limit - after.margin - 100;
        out.limit = info.limit;
        // The process still works: JS allocates, and mappings come back once the loop yields.
        const big = new Array(100000).fill(0).map((_, k) => ({ k }));
        out.js = big.length;
        setImmediate(async () => { await settle(); const m = pw.mmap(P); m.view()[0] = 1; m.unmap(); out.after = 'mapped again'; });
      `, ['--expose-gc']);
      expectClean(res);
      expect(res.out.error).toEqual({ code: 'ENOMEM', syscall: 'mmap', errno: -12, hint: true });
      expect(res.out.withinMargin).toBe(true);
      expect(res.out.js).toBe(100000);
      expect(res.out.after).toBe('mapped again');
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});

it('address 0 is refused with ERR_OUT_OF_RANGE before any system call (7)', () => {
  expect(() => mmap(page, { address: 0n })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
});

it('patched Map, Array, String and Number built-ins do not desync the protection model (8)', () => {
  const res = child(`
    const m = pw.mmap(8 * P);
    const realGet = Map.prototype.get;
    Map.prototype.get = function (k) { return k === 'r' ? realGet.call(this, 'rw') : k === 'rw' ? realGet.call(this, 'r') : realGet.call(this, k); };
    Array.prototype[Symbol.iterator] = function* () {};
    Array.prototype.push = function () { return 0; };
    String.prototype.includes = () => true;
    Number.isSafeInteger = () => true;
    m.protect('r', 0, 4 * P);
    m.protect('rw', 4 * P, 4 * P);
    try { m.view(0, P)[0] = 1; out.readOnlyView = 'made'; } catch (e) { out.readOnlyView = e.code; }
    const v = m.view(4 * P, P); v[0] = 2; out.rwWrite = v[0];
    try { m.protect('rw', 0.5, P); } catch (e) { out.fraction = e.code; }
    out.prot = [m.protection(0), m.protection(4 * P)];
    const line = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => BigInt('0x' + l.split('-')[0]) === m.address);
    out.kernel = line && line.split(' ')[1];
  `);
  expectClean(res);
  expect(res.out).toEqual({ readOnlyView: 'ERR_INVALID_STATE', rwWrite: 2, fraction: 'ERR_OUT_OF_RANGE', prot: ['r', 'rw'], kernel: 'r--p' });
});

it.skipIf(underEmulation().qemu)('workers that measure faults leave no perf descriptors behind (9)', () => {
  const res = child(`
    const { Worker } = require('node:worker_threads');
    const fs = require('fs');
    const perfFds = () => fs.readdirSync('/proc/self/fd').filter((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f).includes('perf_event'); } catch { return false; } }).length;
    out.before = perfFds();
    const script = \`const pw = require(\${JSON.stringify('${path.join(__dirname, '..', 'dist', 'lib', 'index.js')}')}); pw.faults(); pw.measureSync(() => 1); require('node:worker_threads').parentPort.postMessage(pw.faults().perf !== undefined);\`;
    (async () => {
      for (let i = 0; i < 20; i++) {
        const w = new Worker(script, { eval: true });
        await new Promise((res) => w.once('exit', res));
      }
      // A worker's descriptors are closed by its environment's cleanup, which
      // may finish just after 'exit' reaches this thread: wait for it (bounded).
      for (let k = 0; k < 100 && perfFds() !== out.before; k++) await new Promise((res) => setTimeout(res, 20));
      out.after = perfFds();
    })();
  `, []);
  expectClean(res);
  expect(res.out.after).toBe(res.out.before);
});

describe('residency counts this process for shared and file mappings (10)', () => {
  it('a shared mapping after dontneed: 0 pages, as pagemap says, though the pages stay in the page cache', () => {
    const m = mmap(16 * page, { shared: true });
    try {
      m.view().fill(1);
      expect(m.residentPages()).toBe(16);
      m.advise('dontneed');
      expect(m.residentPages()).toBe(0);
      const viaMincore = residency(m, undefined, undefined, { source: 'mincore' });
      expect(viaMincore.source).not.toBe('mincore');
      expect(viaMincore.pages).toBe(0);
      expect(viaMincore.counts).toBe('process');
      expect(viaMincore.fallback).toMatch(/page-cache/);
      // mincore's own answer (the page cache) is still there for who asks for the vector.
      expect(m.residencyVector().reduce((a, b) => a + (b & 1), 0)).toBe(16);
    } finally {
      m.unmap();
    }
  });

  it('an untouched file mapping maps no page of this process, whatever the page cache holds', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-res-'));
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, Buffer.alloc(8 * page, 2));
    fs.readFileSync(file); // in the page cache now
    const fd = fs.openSync(file, 'r+');
    try {
      const m = mmap(8 * page, { file: { fd }, shared: true });
      expect(m.residentPages()).toBe(0);
      expect(residency(m).pages).toBe(0);
      expect(m.view()[page]).toBe(2);
      // A read fault maps the page and, by fault-around, cached neighbours: what
      // this process maps now, as its page tables say.
      const mapped = m.residentPages();
      expect(mapped).toBeGreaterThanOrEqual(1);
      expect(mapped).toBe(residency(m, undefined, undefined, { source: 'pagemap' }).present);
      m.unmap();
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('errors in the documented shape (12)', () => {
  it('a double free names the view by type and length, never by its bytes', () => {
    const a = new Arena({ reserve: 1 << 24, hugePages: false });
    const v = a.alloc(8);
    v.fill(7);
    a.free(v);
    let message = '';
    try {
      a.free(v);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/double free.*\(8 bytes\)/);
    expect(message).not.toMatch(/7, 7/);
    a.close();
  });

  it('Mapping methods on anything but a Mapping: TypeError with ERR_INVALID_ARG_TYPE', () => {
    const m = mmap(page);
    const proxy = new Proxy(m, {});
    const calls: Array<() => unknown> = [
      () => Mapping.prototype.unmap.call({}),
      () => Mapping.prototype.view.call(proxy),
      () => Mapping.prototype.protect.call(proxy, 'r'),
      () => Object.getOwnPropertyDescriptor(Mapping.prototype, 'length')!.get!.call({}),
      () => proxy.advise('dontneed'),
    ];
    for (const f of calls) expect(f).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    m.unmap();
  });

  it('residencyOfRange with something that is not a region: ERR_INVALID_ARG_TYPE, not an internal error', () => {
    expect(() => residencyOfRange({} as never, 0, page)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    const m = mmap(page);
    expect(() => residencyOfRange(m.region, 0, 2 * page)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    m.unmap();
  });

  it.skipIf(maxArrayBufferLength() > 2 ** 32)('residencyVector of more pages than one Uint8Array holds: ERR_OUT_OF_RANGE (Node 20)', () => {
    const m = mmap(2 ** 32 * page + page, { noReserve: true, prot: 'none' });
    try {
      expect(() => m.residencyVector()).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    } finally {
      m.unmap();
    }
  });
});
