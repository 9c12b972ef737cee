/**
 * Never crash, part two (issue 22): sharing, resize, guard and seal under
 * every order of calls. Each numbered case is one the issue found crashing,
 * losing memory or returning an internal error; the crashing ones run in a
 * child and the test asserts how it ended (exit 0, no signal) and what it
 * printed. Each fails without its fix.
 *
 * transfer() is ES2024: on by default from Node 21; Node 20 needs
 * --harmony-rab-gsab-transfer.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adviseMany, attach, explain, kernelHas, mmap, pageSize, queryMapping, readMaps, readSmaps, type Mapping, type ShareToken } from '../lib/index';
import { DIST, runChild, type ChildResult } from './helpers/child';
import { unmeasurable } from './helpers/emulation';
import { atFreeRange } from './helpers/features';

const page = pageSize();
const nativeTransfer = Number(process.versions.node.split('.')[0]) >= 21;
const TRANSFER = nativeTransfer ? ['--expose-gc'] : ['--expose-gc', '--harmony-rab-gsab-transfer'];
const noGuards = !kernelHas('guard');

/** Runs `code` in a child with `out` printed as JSON at exit. */
function child(code: string, nodeArgs: string[] = TRANSFER): { r: ChildResult; out: Record<string, unknown> } {
  const r = runChild(
    `const out = {}; const P = pw.pageSize();
     const settle = async (n = 8) => { for (let i = 0; i < n; i++) { globalThis.gc?.(); await new Promise((res) => setImmediate(res)); } };
     const codeOf = (f) => { try { f(); return 'ok'; } catch (e) { return e.code ?? String(e); } };
     process.on('exit', () => console.log('OUT ' + JSON.stringify(out, (k, v) => typeof v === 'bigint' ? String(v) : v)));
     ${code}`,
    { nodeArgs },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('OUT '));
  return { r, out: line ? (JSON.parse(line.slice(4)) as Record<string, unknown>) : {} };
}

function expectClean(res: { r: ChildResult }): void {
  expect({ signal: res.r.signal, status: res.r.status, stderr: res.r.status === 0 ? '' : res.r.stderr.slice(-2000) }).toEqual({ signal: null, status: 0, stderr: '' });
}

describe('share() and attach() hold to what every holder assumes (1, 2, 7, 10, 11)', () => {
  it('1. protect() after share(): the token no longer attaches until share() finds the memory read-write again (child)', () => {
    const res = child(`
      const m = pw.mmap(4 * P); m.view().fill(3);
      const t = m.share();
      m.protect('r');
      out.attachReadOnly = codeOf(() => pw.attach(t));
      m.protect('rw');
      out.stillStale = codeOf(() => pw.attach(t));
      const a = pw.attach(m.share());
      a.view()[0] = 1;
      out.seen = m.view()[0] + a.view()[1];
      out.lowerWhileAttached = codeOf(() => m.protect('r'));`);
    expectClean(res);
    expect(res.out).toEqual({ attachReadOnly: 'ERR_INVALID_STATE', stillStale: 'ERR_INVALID_STATE', seen: 4, lowerWhileAttached: 'ERR_INVALID_STATE' });
  });

  it.skipIf(noGuards)('2. guard() after share(): attach() is refused; share() refuses while guards stand; guard() is refused while another thread holds it (child)', () => {
    const res = child(`
      const m = pw.mmap(4 * P);
      const t = m.share();
      m.guard(0, P);
      out.attachGuarded = codeOf(() => pw.attach(t));
      out.shareGuarded = codeOf(() => m.share());
      m.unguard(0, P);
      const a = pw.attach(m.share());
      a.view()[0] = 1;
      out.read = m.view()[0];
      out.guardWhileAttached = codeOf(() => m.guard(P, P));`);
    expectClean(res);
    expect(res.out).toEqual({ attachGuarded: 'ERR_INVALID_STATE', shareGuarded: 'ERR_INVALID_STATE', read: 1, guardWhileAttached: 'ERR_INVALID_STATE' });
  });

  it.skipIf(noGuards)('2. guard pages cut off by a shrinking resize() go with the bytes: share() works, and growing back maps writable pages (child; found by the property test)', () => {
    const res = child(`
      const m = pw.mmap(8 * P);
      m.guard(2 * P, 2 * P);
      m.resize(P);
      out.guardBytes = m.guardedBytes;
      out.share = codeOf(() => m.share());
      m.resize(8 * P);
      const v = m.view();
      v[2 * P] = 7; v[3 * P + 1] = 8;
      out.read = v[2 * P] + v[3 * P + 1];`);
    expectClean(res);
    expect(res.out).toEqual({ guardBytes: 0, share: 'ok', read: 15 });
  });

  it.skipIf(noGuards || !kernelHas('mseal'))('2. a guard() the kernel refuses part-way (EPERM at a sealed read-only page after a writable one) leaves no view over a page it guarded (child; found by the property test)', () => {
    const res = child(`
      const m = pw.mmap(2 * P);
      m.view()[0] = 9;
      m.protect('r', P, P);
      m.seal();
      out.guard = codeOf(() => m.guard(0, 2 * P));
      out.guardBytes = m.guardedBytes;
      out.view = codeOf(() => m.view(0, P)[0]);`);
    expectClean(res);
    expect(res.out).toEqual({ guard: 'EPERM', guardBytes: 2 * page, view: 'ERR_INVALID_STATE' });
  });

  it('7. attach() after the owner unmapped (a view still alive) is ERR_INVALID_STATE, never zero pages (child)', () => {
    const res = child(`
      const m = pw.mmap(4 * P); const v = m.view(); v.fill(7);
      const t = m.share();
      m.unmap();
      out.attach = codeOf(() => pw.attach(t));
      out.viewLength = v.length;`);
    expectClean(res);
    expect(res.out).toEqual({ attach: 'ERR_INVALID_STATE', viewLength: 0 });
  });

  it('7. a worker attaching while the owner unmaps reads every byte or is refused, never zeros (child, 40 races)', () => {
    const res = child(`
      const { Worker } = require('node:worker_threads');
      (async () => {
        const tally = { read: 0, refused: 0, zeros: 0 };
        const w = new Worker(\`const { parentPort } = require('node:worker_threads'); const pw = require(\${JSON.stringify(${JSON.stringify(DIST)})});
          parentPort.on('message', (t) => { try { const a = pw.attach(t); const v = a.view(); let z = 0; for (let i = 0; i < v.length; i++) if (v[i] !== 7) z++; a.unmap(); parentPort.postMessage({ z }); } catch (e) { parentPort.postMessage({ code: e.code }); } });\`, { eval: true });
        for (let k = 0; k < 40; k++) {
          const m = pw.mmap(16 * P); const v = m.view(); v.fill(7);
          const got = new Promise((r) => w.once('message', r));
          w.postMessage(m.share());
          for (let spin = 0; spin < (k % 8) * 2000; spin++);
          m.unmap();
          const r = await got;
          if (r.code === 'ERR_INVALID_STATE') tally.refused++; else if (r.z === 0) tally.read++; else tally.zeros += r.z;
        }
        await w.terminate();
        out.tally = { total: tally.read + tally.refused, zeros: tally.zeros };
      })();`);
    expectClean(res);
    expect(res.out.tally).toEqual({ total: 40, zeros: 0 });
  });

  it('10. resize() after share() works while no other thread holds the memory; a token made before it no longer attaches (child)', () => {
    const res = child(`
      const m = pw.mmap(4 * P); m.view()[0] = 5;
      const t = m.share();
      out.grow = codeOf(() => m.resize(8 * P, { mayMove: true }));
      out.oldToken = codeOf(() => pw.attach(t));
      const a = pw.attach(m.share());
      out.attachedLength = a.length;
      out.whileAttached = codeOf(() => m.resize(2 * P));
      a.unmap();
      out.afterDetach = codeOf(() => m.resize(2 * P));
      out.read = m.view()[0];`);
    expectClean(res);
    expect(res.out).toEqual({ grow: 'ok', oldToken: 'ERR_INVALID_ARG_VALUE', attachedLength: 8 * page, whileAttached: 'ERR_INVALID_STATE', afterDetach: 'ok', read: 5 });
  });

  it('10. after a move with a live view of written memory, later resizes still work (one kernel mapping)', () => {
    let first: Mapping | undefined;
    const { at, m, blocker } = atFreeRange(64 * page, (a) => {
      first = undefined;
      first = mmap(4 * page, { address: a });
      return { at: a, m: first, blocker: mmap(page, { address: a + BigInt(4 * page) }) };
    }, () => first?.unmap());
    try {
      const v = m.view();
      v.fill(9);
      m.resize(8 * page, { mayMove: true });
      expect(m.address).not.toBe(at);
      expect(readMaps('self', { start: m.address, end: m.address + BigInt(8 * page) }).length).toBe(1);
      m.resize(2 * page);
      m.resize(6 * page, { mayMove: true });
      expect(m.view()[2 * page - 1]).toBe(9);
      expect(v.length).toBe(0);
    } finally {
      m.unmap();
      blocker.unmap();
    }
  });

  it('11. tokens are checked against the registry: forged fields, a foreign pid, an id nothing has', () => {
    const m = mmap(2 * page);
    try {
      const t = m.share();
      expect(typeof t.id).toBe('bigint');
      expect(t.pid).toBe(process.pid);
      const bad = (over: Record<string, unknown>): unknown => {
        try {
          attach({ ...t, ...over } as ShareToken).unmap();
          return 'ok';
        } catch (e) {
          return (e as { code?: string }).code;
        }
      };
      expect(bad({ length: 2 ** 30 })).toBe('ERR_INVALID_ARG_VALUE');
      expect(bad({ pageSize: 0 })).toBe('ERR_OUT_OF_RANGE');
      expect(bad({ pageSize: NaN })).toBe('ERR_OUT_OF_RANGE');
      expect(bad({ pageSize: -page })).toBe('ERR_OUT_OF_RANGE');
      expect(bad({ pageSize: page * 2 })).toBe('ERR_INVALID_ARG_VALUE');
      expect(bad({ id: -1n })).toBe('ERR_INVALID_ARG_VALUE');
      expect(bad({ id: t.id + 1n })).toBe('ERR_INVALID_STATE');
      expect(bad({ kind: { ...t.kind, shared: true } })).toBe('ERR_INVALID_ARG_VALUE');
      expect(bad({ pid: process.pid + 1 })).toBe('ERR_INVALID_ARG_VALUE');
      expect(bad({})).toBe('ok');
    } finally {
      m.unmap();
    }
  });

  it('11. a token printed by another process names nothing here', () => {
    const r = spawnSync(process.execPath, ['-e', `const pw = require(${JSON.stringify(DIST)}); const m = pw.mmap(pw.pageSize()); const t = m.share(); console.log(JSON.stringify({ ...t, id: String(t.id) }));`], { encoding: 'utf8' });
    const foreign = JSON.parse(r.stdout.trim()) as ShareToken & { id: string };
    const m = mmap(page);
    try {
      m.share();
      expect(() => attach({ ...foreign, id: BigInt(foreign.id) })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      // The same id with this pid: no entry has it (ids are random, 62 bits).
      expect(() => attach({ ...foreign, id: BigInt(foreign.id), pid: process.pid })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    } finally {
      m.unmap();
    }
  });
});

describe('escapes are recorded against the backing store: a GC cannot erase them (3, 4)', () => {
  for (const how of ['transfer', 'transferToFixedLength'] as const) {
    it(`3. ${how}() then GC: protect() and guard() are refused, the moved buffer keeps working (child)`, () => {
      const res = child(`
        (async () => {
          const m = pw.mmap(4 * P);
          let v = m.view(); v[0] = 4;
          let mv = v.buffer.${how}(); v = null;
          await settle();
          out.protect = codeOf(() => m.protect('r'));
          out.guard = pw.kernelHas('guard') ? codeOf(() => m.guard(0, P)) : 'ERR_INVALID_STATE';
          out.moved = ((u) => { u[0] += 1; u[4 * P - 1] = 2; return u[0] + u[4 * P - 1]; })(new Uint8Array(mv));
          out.rest = codeOf(() => m.protect('rw'));
          // Once the moved buffer is gone too, protect() works again.
          mv = null;
          let rounds = 0;
          while (codeOf(() => m.protect('r', 0, P)) !== 'ok' && rounds < 200) { await settle(1); rounds++; }
          out.afterGone = rounds < 200;
        })();`);
      expectClean(res);
      expect(res.out).toEqual({ protect: 'ERR_INVALID_STATE', guard: 'ERR_INVALID_STATE', moved: 7, rest: 'ok', afterGone: true });
    });
  }

  it.skipIf(noGuards)('4. an arena with guardPages over a transferred, freed block: allocations of 1-5 pages and an in-place realloc never put a guard under it (child)', () => {
    const res = child(`
      (async () => {
        const a = new pw.Arena({ guardPages: 1, hugePages: false });
        let b = a.alloc(300 * 1024);
        const mv = b.buffer.transfer();
        a.free(b); b = null;
        await settle();
        const keep = [];
        for (let i = 1; i <= 5; i++) for (let j = 0; j < 4; j++) { const x = a.alloc(i * P); x.fill(i); keep.push(x); }
        new Uint8Array(mv).fill(1);
        // realloc growing in place over a freed, transferred neighbour
        const left = a.alloc(2 * P); let right = a.alloc(8 * P);
        const mv2 = right.buffer.transfer(); a.free(right); right = null;
        await settle();
        const grown = a.realloc(left, 9 * P);
        new Uint8Array(mv2).fill(2);
        grown.fill(3);
        out.keep = keep.every((x, k) => x[0] === Math.floor(k / 4) + 1 && x[x.length - 1] === Math.floor(k / 4) + 1);
        out.moved = new Uint8Array(mv)[0] + new Uint8Array(mv2)[0];
        out.grown = grown[9 * P - 1];
      })();`);
    expectClean(res);
    expect(res.out).toEqual({ keep: true, moved: 3, grown: 3 });
  });
});

describe('memory never shrinks or fails to grow under a holder (5, 6, 8)', () => {
  it('5. shared anonymous memory cannot grow past the size it was mapped with (in place, moved, with a live view); shrinking and growing back work', () => {
    const m = mmap(4 * page, { shared: true });
    try {
      const v = m.view();
      v[0] = 1;
      for (const o of [undefined, { mayMove: true }]) expect(() => m.resize(16 * page, o)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
      expect(m.length).toBe(4 * page);
      m.resize(2 * page);
      m.resize(4 * page, { mayMove: true });
      const w = m.view();
      w[4 * page - 1] = 2;
      expect(w[0]! + w[4 * page - 1]!).toBe(3);
    } finally {
      m.unmap();
    }
  });

  it('6. SharedMemory.resize() refuses to shrink under this process\'s own mappings (memfd, shm_open, fromFd allowShrink), and shrinks once they are gone (child)', () => {
    const res = child(`
      const fs = require('node:fs');
      const name = '/pw-shrink-' + process.pid;
      const shm = pw.shmOpen(name, { create: true, size: 8 * P }); pw.shmUnlink(name);
      const dup = pw.SharedMemory.fromFd(fs.openSync('/proc/self/fd/' + shm.fd, 'r+'), { allowShrink: true });
      const objects = { memfd: pw.memfd('x', 8 * P, { seals: [] }), shm, fromFd: dup };
      for (const [k, s] of Object.entries(objects)) {
        s.resize(8 * P);
        const m = (k === 'fromFd' ? shm : s).map();
        const v = m.view(); v[7 * P] = 1;
        const r = { shrink: codeOf(() => s.resize(P)), size: s.size, read: v[7 * P], grow: codeOf(() => s.resize(16 * P)) };
        m.unmap();
        r.after = codeOf(() => s.resize(P));
        r.sizeAfter = s.size;
        out[k] = r;
      }`, ['--expose-gc']);
    expectClean(res);
    const expected = { shrink: 'ERR_INVALID_STATE', size: 8 * page, read: 1, grow: 'ok', after: 'ok', sizeAfter: page };
    expect(res.out).toEqual({ memfd: expected, shm: expected, fromFd: expected });
  });

  it('8. a private file mapping moved with a live view keeps mapping the file in the grown part', () => {
    const res = child(`
      const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
      const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-')), 'f');
      fs.writeFileSync(f, Buffer.alloc(16 * P, 0x41));
      const fd = fs.openSync(f, 'r+');
      // A free range, taken back and mapped at: another thread (V8's) may map into it between the
      // two calls (EEXIST from MAP_FIXED_NOREPLACE), so a new range is found until both mappings land.
      let m, blocker, at;
      for (let i = 0; !blocker; i++) {
        const probe = pw.mmap(64 * P, { noReserve: true, prot: 'none' }); at = probe.address; probe.unmap();
        try {
          m = pw.mmap(4 * P, { file: { fd }, address: at });
          blocker = pw.mmap(P, { address: at + BigInt(4 * P) });
        } catch (e) {
          if (e.code !== 'EEXIST' || i === 100) throw e;
          if (m && m.mapped) m.unmap();
        }
      }
      const v = m.view();
      m.resize(8 * P, { mayMove: true });
      out.moved = m.address !== at;
      out.page6 = m.view()[6 * P];
      out.again = codeOf(() => m.resize(10 * P, { mayMove: true }));
      out.page9 = m.view()[9 * P];
      out.oldView = v.length;
      m.unmap(); blocker.unmap(); fs.closeSync(fd); fs.rmSync(path.dirname(f), { recursive: true });`);
    expectClean(res);
    expect(res.out).toEqual({ moved: true, page6: 0x41, again: 'ok', page9: 0x41, oldView: 0 });
  });
});

describe('workers terminated while holding views of attached memory (9)', () => {
  it.skipIf(unmeasurable('pagemap', 'present pages of a range'))('after every holder let go the range holds no resident page (child)', () => {
    const res = child(`
      const { Worker } = require('node:worker_threads');
      (async () => {
        const m = pw.mmap(16 * P); const t = m.share(); const at = m.address;
        ((v) => v.fill(1))(m.view(0, 16 * P));
        const ws = [];
        for (let i = 0; i < 3; i++) {
          const w = new Worker(\`const pw = require(\${JSON.stringify(${JSON.stringify(DIST)})}); const { parentPort, workerData } = require('node:worker_threads');
            const a = pw.attach(workerData); const v = a.view(); const w2 = a.view(0, 4096); parentPort.postMessage('ready'); for (;;) { v[1]++; w2[2]++; }\`, { eval: true, workerData: t });
          await new Promise((r) => w.once('message', r));
          ws.push(w);
        }
        out.holders = m.sharedHolders;
        for (const w of ws) await w.terminate();
        out.holdersAfter = m.sharedHolders;
        out.kept = ((v) => v[0] + v[16 * P - 1])(m.view(0, 16 * P));
        await settle();
        m.unmap();
        await settle();
        // Present pages of the range, from the page tables (the range may have merged with a neighbour VMA).
        const pm = require(require('node:path').join(require('node:path').dirname(${JSON.stringify(DIST)}), 'kernel', 'pagemap.js'));
        out.present = [...pm.readPagemap(at, 16)].filter((e) => pm.decodePagemapEntry(e).present).length;
      })();`);
    expectClean(res);
    expect(res.out).toEqual({ holders: 4, holdersAfter: 1, kept: 2, present: 0 });
  });
});

describe('/proc edges and internal errors (12, 13, 14)', () => {
  it('12. readMaps() and readSmaps() of a zombie are empty; explain() of a dead pid is ESRCH with errno and syscall', async () => {
    // sh starts a child and execs into sleep, which never reaps it: the child stays a zombie. The child outlives
    // the exec by a second (a child that ended before it could be reaped by the shell: seen on Node 22 and 26).
    const c = spawn('/bin/sh', ['-c', 'sleep 1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zpid = Number(await new Promise<string>((r) => c.stdout!.once('data', (d: Buffer) => r(d.toString()))));
      let state = '';
      for (let i = 0; i < 4000 && state !== 'Z'; i++) {
        const s = readFileSync(`/proc/${zpid}/stat`, 'latin1');
        state = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
        if (state !== 'Z') await new Promise((r) => setTimeout(r, 5));
      }
      expect(state).toBe('Z');
      expect({ maps: readMaps(zpid), smaps: readSmaps(zpid) }).toEqual({ maps: [], smaps: [] });
    } finally {
      c.kill();
    }
    await new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));
    let err: NodeJS.ErrnoException | null = null;
    try {
      explain({ pid: c.pid! });
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toEqual(expect.objectContaining({ code: 'ESRCH', errno: -3, syscall: 'open' }));
  });

  it('12. explain.watch() keeps watching a process across exec(); bad runtime and signal options are ERR_INVALID_ARG_TYPE', async () => {
    const c = spawn('/bin/sh', ['-c', 'sleep 0.4; exec sleep 3'], { stdio: 'ignore' });
    try {
      const t0 = Date.now();
      let afterExec = 0;
      for await (const s of explain.watch({ pid: c.pid!, intervalMs: 100, count: 12 })) {
        if (s.time - t0 > 700) afterExec++;
      }
      expect(afterExec).toBeGreaterThan(0);
    } finally {
      c.kill();
    }
    await expect(explain.watch({ runtime: 5 } as never).next()).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    await expect(explain.watch({ signal: 5 } as never).next()).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('13. adviseMany() whose argument getter unmaps an earlier mapping is ERR_INVALID_STATE before any system call', () => {
    const a = mmap(2 * page);
    const b = mmap(2 * page);
    try {
      const tricky = [b, 0, 0] as unknown as [typeof b, number, number];
      Object.defineProperty(tricky, 2, { get: () => (a.unmap(), page) });
      expect(() => adviseMany([[a, 0, page], tricky], 'dontneed')).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_STATE' }));
    } finally {
      b.unmap();
    }
  });

  it('14. queryMapping() finds the gate area readMaps() lists', () => {
    const gate = readMaps().find((e) => e.pathname === '[vsyscall]');
    if (!gate) return; // arm64 and kernels without vsyscall have none
    expect(queryMapping(gate.start)).toEqual(expect.objectContaining({ start: gate.start, end: gate.end, name: '[vsyscall]' }));
  });

  it('14. a ranged readMaps() never returns overlapping entries while another thread maps and unmaps (child)', () => {
    const res = child(`
      const { Worker } = require('node:worker_threads');
      (async () => {
        const sab = new Int32Array(new SharedArrayBuffer(4));
        const w = new Worker(\`const pw = require(\${JSON.stringify(${JSON.stringify(DIST)})}); const { workerData } = require('node:worker_threads');
          const stop = new Int32Array(workerData); const P = pw.pageSize(); const ms = [];
          while (Atomics.load(stop, 0) === 0) { ms.push(pw.mmap(P * (1 + ms.length % 7))); if (ms.length > 40) { ms.splice(0, 20).forEach((m) => m.unmap()); } }\`, { eval: true, workerData: sab.buffer });
        await new Promise((r) => setTimeout(r, 50));
        const lo = pw.readMaps()[0].start; let overlaps = 0, lists = 0;
        for (let k = 0; k < 1500; k++) {
          const l = pw.readMaps('self', { start: lo, end: 0x7fffffffffffn }); lists++;
          for (let i = 1; i < l.length; i++) if (l[i].start < l[i - 1].end) overlaps++;
        }
        Atomics.store(sab, 0, 1); await new Promise((r) => w.once('exit', r));
        out.lists = lists; out.overlaps = overlaps;
      })();`, ['--expose-gc']);
    expectClean(res);
    expect(res.out).toEqual({ lists: 1500, overlaps: 0 });
  });
});
