/**
 * Arena: nothing a caller can reach or patch crashes the process or changes
 * what the arena passes to the kernel (issue 11, items 5, 6, 11 and 12 for
 * the arena). Tampering runs in a child process: the test asserts how the
 * child ended (normal exit, no signal) and what it printed.
 */
import { describe, expect, it } from 'vitest';
import { Arena, LARGE_BLOCK_BYTES } from '../lib/arena';
import { pageSize } from '../lib/kernel/system';
import { runChild } from './helpers/child';

const page = pageSize();
const MiB = 2 ** 20;

function lastJson<T>(r: { status: number | null; signal: string | null; stdout: string; stderr: string }): T {
  expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 2000) }).toEqual({ status: 0, signal: null, stderr: '' });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

describe('Arena: owner records are out of reach', () => {
  it('a view and its buffer carry no property a caller can read or write', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
    for (const size of [64, 3 * page, 64 * page, LARGE_BLOCK_BYTES + 1]) {
      const v = a.alloc(size);
      expect(Reflect.ownKeys(v.buffer)).toEqual([]);
      expect(Object.getOwnPropertySymbols(v)).toEqual([]);
      expect(Object.getOwnPropertyNames(v).filter((k) => !/^\d+$/.test(k))).toEqual([]);
    }
  });

  it('rewriting every number reachable from a view, then free() and alloc(), never crashes', () => {
    // Before the fix: the owner record hung on the buffer under a symbol;
    // setting its page to the last committed page made free() release the
    // wrong run and the next alloc() hand out a view over PROT_NONE memory
    // (SIGSEGV on the first write).
    const r = runChild(`
      const P = pw.pageSize();
      const a = new pw.Arena({ reserve: 64 << 20, chunkSize: 1 << 20, hugePages: false });
      const lastPage = (1 << 20) / P - 1;
      let tampered = 0;
      const seen = new Set();
      const tamper = (o, depth) => {
        if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o) || depth > 3) return;
        seen.add(o);
        for (const k of Reflect.ownKeys(o)) {
          if (typeof k === 'string' && /^\\d+$/.test(k)) continue;
          let d; try { d = Object.getOwnPropertyDescriptor(o, k); } catch { continue; }
          if (!d || !('value' in d)) continue;
          if (typeof d.value === 'number') { try { o[k] = lastPage; tampered++; } catch {} }
          else tamper(d.value, depth + 1);
        }
      };
      const views = [a.alloc(64), a.alloc(3 * P), a.alloc(64 * P), a.alloc(${LARGE_BLOCK_BYTES} * 2)];
      for (const v of views) { tamper(v, 0); tamper(v.buffer, 0); }
      let errors = 0;
      for (const v of views) { try { a.free(v); } catch { errors++; } }
      let written = 0;
      for (let i = 0; i < 64; i++) {
        const size = [64, 3 * P, 64 * P, ${LARGE_BLOCK_BYTES} * 2][i % 4];
        const w = a.alloc(size);
        w.fill(7); written += w.length;
      }
      console.log(JSON.stringify({ tampered, errors, written }));`);
    const out = lastJson<{ tampered: number; errors: number; written: number }>(r);
    expect(out.tampered).toBe(0);
    expect(out.errors).toBe(0);
    expect(out.written).toBe(16 * (64 + 3 * page + 64 * page + 2 * LARGE_BLOCK_BYTES));
  });

  it('patched built-ins (typed-array getters, Map/WeakMap/Array/Math/Number, Uint8Array) change nothing the arena does', () => {
    const r = runChild(`
      const P = pw.pageSize();
      const a = new pw.Arena({ reserve: 64 << 20, chunkSize: 1 << 20, hugePages: false });
      const before = [64, 3 * P, ${LARGE_BLOCK_BYTES}].map((n) => a.alloc(n));
      const origSubarray = Uint8Array.prototype.subarray;
      const sub = (v, n) => Reflect.apply(origSubarray, v, [n]);
      const addrBefore = before.map((v) => String(a.addressOf(sub(v, 16))));
      // The attack: every built-in the arena might lean on now lies.
      const TA = Object.getPrototypeOf(Uint8Array.prototype);
      for (const k of ['byteOffset', 'byteLength', 'length']) Object.defineProperty(TA, k, { get() { return 2 ** 40; }, configurable: true });
      Object.defineProperty(TA, 'buffer', { get() { return new ArrayBuffer(8); }, configurable: true });
      TA.fill = function () { return this; };
      TA.set = function () {};
      TA.subarray = function () { return this; };
      Map.prototype.get = () => ({ page: ${1 << 20} / P - 1, kind: 0 });
      Map.prototype.set = function () { return this; };
      Map.prototype.has = () => true;
      WeakMap.prototype.get = () => ({ page: ${1 << 20} / P - 1, kind: 0 });
      WeakMap.prototype.set = function () { return this; };
      WeakMap.prototype.has = () => true;
      Array.prototype.push = function () { return 0; };
      Array.prototype.pop = function () { return 12345; };
      for (let i = 0; i < 300; i++) Object.defineProperty(Array.prototype, i, { get() { return { id: i, page: 255, kind: 0, free: 1, count: 1 }; }, set() {}, configurable: true });
      Math.floor = Math.ceil = Math.max = Math.min = () => ${1 << 20} / P - 1;
      Math.clz32 = () => 0; Math.log2 = () => 1;
      Number.isInteger = () => true; Number.isSafeInteger = () => true;
      globalThis.Uint8Array = function () { return new Float64Array(1); };
      for (const v of before) Object.defineProperty(v, 'byteOffset', { value: 2 ** 40 });
      const addrAfter = before.map((v) => String(a.addressOf(Reflect.apply(origSubarray, v, [16]))));
      let written = 0; let errors = '';
      for (let round = 0; round < 3; round++) {
        const views = new Set();
        for (let i = 0; i < 200; i++) views.add(a.alloc([16, 64, 3000, 3 * P, 64 * P, ${LARGE_BLOCK_BYTES} + 1][i % 6]));
        let k = 0;
        for (const v of views) {
          for (let j = 0; j < 64; j++) v[j] = 1;
          written++;
          if (k++ % 2 === 0) { try { a.free(v); } catch (e) { errors += ' free ' + e.code; } }
        }
        try { a.purge(); } catch (e) { errors += ' purge ' + e.code; }
      }
      a.reset();
      for (let i = 0; i < 100; i++) { const v = a.alloc(3 * P); v[0] = 1; v[3 * P - 1] = 1; }
      const same = addrBefore[0] === addrAfter[0] && addrBefore[1] === addrAfter[1] && addrBefore[2] === addrAfter[2];
      process.stdout.write('{"same":' + same + ',"written":' + written + ',"errors":"' + errors + '"}\\n');`);
    expect(lastJson(r)).toEqual({ same: true, written: 600, errors: '' });
  });

  it('a view made with the views\' own constructor carries no owner: it cannot free or stand for a block', () => {
    using a = new Arena({ reserve: 16 * MiB, chunkSize: MiB, hugePages: false });
    const v = a.alloc(64);
    const Ctor = v.constructor as new (...args: unknown[]) => Uint8Array;
    const forged = new Ctor(v.buffer, v.byteOffset, 64, { kind: 0, id: 0 }, 0);
    expect(() => a.free(forged)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => a.sizeOf(forged)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(Object.getPrototypeOf(v.subarray(0, 8))).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(v.slice(0, 8))).toBe(Uint8Array.prototype);
    a.free(v);
    expect(a.stats().allocated).toBe(0);
  });

  it('addressOf trusts no getter a caller overrides', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
    const v = a.alloc(3 * page);
    const part = v.subarray(100);
    const expected = a.addressOf(part);
    expect(expected - a.addressOf(v)).toBe(100n);
    Object.defineProperty(part, 'byteOffset', { value: 2 ** 40 });
    Object.defineProperty(part, 'buffer', { value: new ArrayBuffer(8) });
    expect(a.addressOf(part)).toBe(expected);
    const fake = new Proxy(v, {});
    expect(() => a.addressOf(fake)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => a.free(fake)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const lookAlike = Object.create(Uint8Array.prototype) as Uint8Array;
    expect(() => a.addressOf(lookAlike)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('Arena: buffers moved away with transfer()', () => {
  it('the arena goes on (new buffers over the same pages), realloc keeps what it can, close() and later writes to the moved buffer do not crash', () => {
    // On by default from Node 21; Node 20 has it behind a V8 flag.
    const flags = Number(process.versions.node.split('.')[0]) < 21 ? ['--harmony-rab-gsab-transfer'] : [];
    const r = runChild(`
      const P = pw.pageSize();
      const a = new pw.Arena({ reserve: 64 << 20, chunkSize: 1 << 20, hugePages: false });
      const out = {}, moved = [];
      for (const [name, size] of [['small', 64], ['medium', 3 * P], ['large', ${LARGE_BLOCK_BYTES} + 1]]) {
        const v = a.alloc(size); v.fill(1);
        const t = v.buffer.transfer();   // detaches the arena's buffer; the memory now lives in t
        moved.push(t);
        const w = a.alloc(size); w.fill(2);
        const r = a.realloc(v, size * 3); r.fill(3);
        out[name] = { old: v.length, next: w.length, realloc: r.length, sizeOf: a.sizeOf(r) >= size * 3 };
        a.free(r); a.free(w);
      }
      a.purge();
      for (let i = 0; i < 200; i++) a.alloc([64, 3 * P, ${LARGE_BLOCK_BYTES} + 1][i % 3]).fill(4);
      a.reset();
      a.close();
      // The moved buffers still point into the arena's old range: writable, never a fault.
      let sum = 0;
      for (const t of moved) { const u = new Uint8Array(t); u.fill(5); sum += u[0] + u[u.length - 1]; }
      console.log(JSON.stringify({ out, sum }));`, { nodeArgs: flags });
    expect(lastJson(r)).toEqual({
      out: {
        small: { old: 0, next: 64, realloc: 192, sizeOf: true },
        medium: { old: 0, next: 3 * page, realloc: 9 * page, sizeOf: true },
        large: { old: 0, next: LARGE_BLOCK_BYTES + 1, realloc: 3 * (LARGE_BLOCK_BYTES + 1), sizeOf: true },
      },
      sum: 30,
    });
  });
});

describe('Arena: asynchronous work in flight', () => {
  for (const how of ['close()', 'reset({ decommit: true })', 'reset()', 'free()']) {
    it(`crypto.randomFill over arena blocks while ${how} runs: no crash, the fills complete`, () => {
      const r = runChild(`
        // (Not zlib: Node's own zlib aborts when a stream's input is detached
        // mid-stream, with or without pagewise; docs/reliability.md.)
        const crypto = require('crypto');
        const a = new pw.Arena({ reserve: 1 << 30, hugePages: false });
        const big = a.alloc(128 << 20);
        const small = a.alloc(3000);
        const medium = a.alloc(100000);
        big.fill(1); small.fill(2); medium.fill(3);
        let done = 0;
        crypto.randomFill(big, () => { done++; });
        crypto.randomFill(medium, () => { done++; });
        crypto.randomFill(small, () => { done++; });
        setTimeout(() => {
          const how = ${JSON.stringify(how)};
          if (how === 'close()') a.close();
          else if (how === 'reset({ decommit: true })') a.reset({ decommit: true });
          else if (how === 'reset()') a.reset();
          else { a.free(big); a.free(medium); a.free(small); }
        }, 1);
        // The pending fills keep the process alive: it exits when they are done.
        process.on('exit', () => console.log(JSON.stringify({ done })));`, { timeoutMs: 600_000 });
      expect(lastJson<{ done: number }>(r).done).toBe(3);
    });
  }
});

describe('Arena: every bad argument has a code, nothing is coerced', () => {
  it('alloc, tryAlloc, allocZeroed, prefault refuse bigint, symbol and objects without calling valueOf', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
    let called = 0;
    const sneaky = { valueOf: () => (called++, 64), [Symbol.toPrimitive]: () => (called++, 64) };
    const bad: unknown[] = [1n, Symbol('s'), sneaky, '64', null, [64], new Number(64), true];
    for (const value of bad) {
      for (const call of [
        () => a.alloc(value as number),
        () => a.tryAlloc(value as number),
        () => a.allocZeroed(value as number),
        () => a.alloc(64, value as number),
        () => a.prefault(value as number),
      ]) {
        expect(call).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
      }
    }
    for (const value of [-1, 1.5, NaN, Infinity, -0.5, 2 ** 53]) {
      expect(() => a.alloc(value)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(called).toBe(0);
    expect(a.stats().allocated).toBe(0);
  });

  it('options are read once and checked without coercion', () => {
    let reads = 0;
    const options = { get reserve() { reads++; return reads === 1 ? 64 * MiB : -1; }, hugePages: false };
    using a = new Arena(options);
    expect(reads).toBe(1);
    expect(a.stats().reserved).toBe(64 * MiB);
    expect(() => new Arena({ reserve: 1n as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Arena({ chunkSize: { valueOf: () => MiB } as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Arena(5 as unknown as object)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => a.reset({ decommit: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => a.reset([] as unknown as object)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('methods called on something that is not an Arena (a plain object, a Proxy of an arena) throw ERR_INVALID_THIS', () => {
    using a = new Arena({ reserve: 16 * MiB, chunkSize: MiB, hugePages: false });
    const v = a.alloc(64);
    const proxy = new Proxy(a, {});
    const proto = Arena.prototype as unknown as Record<string | symbol, (...args: unknown[]) => unknown>;
    const calls: [string | symbol, unknown[]][] = [
      ['alloc', [64]], ['tryAlloc', [64]], ['allocZeroed', [64]], ['free', [v]], ['addressOf', [v]], ['reset', []],
      ['purge', []], ['prefault', [page]], ['stats', []], ['close', []], [Symbol.dispose, []],
    ];
    for (const self of [{}, proxy, 1, undefined, Object.create(Arena.prototype)]) {
      for (const [name, args] of calls) {
        expect(() => proto[name]!.apply(self, args), String(name)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_THIS' }));
      }
      for (const getter of ['closed', 'address']) {
        const get = Object.getOwnPropertyDescriptor(Arena.prototype, getter)!.get!;
        expect(() => get.call(self)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_THIS' }));
      }
    }
    // The arena itself is untouched.
    expect(a.closed).toBe(false);
    a.free(v);
    expect(a.stats().allocated).toBe(0);
  });
});

describe('Arena: dropped arenas in a loop that never yields', () => {
  it('end in ENOMEM (the vm.max_map_count headroom), never in an abort', () => {
    const r = runChild(`
      const P = pw.pageSize();
      let n = 0, err = null;
      try {
        for (;;) {
          const a = new pw.Arena({ reserve: 4 * 64 * 1024, chunkSize: 64 * 1024 > P ? 64 * 1024 : P, hugePages: false });
          a.alloc(16)[0] = 1;
          n++;
        }
      } catch (e) { err = { code: e.code, name: e.name }; }
      const maps = require('fs').readFileSync('/proc/self/maps', 'utf8').trim().split('\\n').length;
      const limit = Number(require('fs').readFileSync('/proc/sys/vm/max_map_count', 'utf8'));
      console.log(JSON.stringify({ n, err, maps, limit }));`, { timeoutMs: 300_000 });
    const out = lastJson<{ n: number; err: { code: string }; maps: number; limit: number }>(r);
    expect(out.err.code).toBe('ENOMEM');
    // Each arena holds two mappings once something is committed (the
    // committed part and the reserved rest): no more.
    expect(out.n).toBeGreaterThan(out.limit / 4);
    expect(out.maps).toBeLessThan(out.limit);
    expect(out.maps).toBeGreaterThanOrEqual(2 * out.n);
  });
});
