/**
 * Sharing memory: memfd with seals across processes, POSIX shm,
 * share()/attach() across worker threads, SharedArrayBuffer where Node-API
 * can make one. Cross-process cases spawn real children with the descriptor
 * in their stdio. (resize(): test/mapping-resize.test.ts.)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { attach, memfd, mmap, pageSize, shmOpen, shmUnlink, SharedMemory } from '../lib/index';
import { native } from '../lib/native/binding';
import { benchShareHandoff } from '../lib/bench/index';
import { DIST } from './helpers/child';
import { inMaps } from './helpers/features';

const page = pageSize();

/** Runs `code` (with `pw` and `shm` = SharedMemory.fromFd(3)) in a child that has the descriptor as fd 3. */
function childWithFd(fd: number, code: string, allowShrink = false): Promise<{ status: number | null; signal: string | null; out: Record<string, unknown>; stderr: string }> {
  const script = `const pw = require(${JSON.stringify(DIST)}); const out = {};
    process.on('exit', () => console.log('OUT ' + JSON.stringify(out)));
    let shm;
    (async () => { shm = pw.SharedMemory.fromFd(3${allowShrink ? ', { allowShrink: true }' : ''}); ${code} })().catch((e) => { out.error = [e.code, e.message]; });`;
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe', fd] });
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith('OUT '));
      resolve({ status, signal, out: line ? (JSON.parse(line.slice(4)) as Record<string, unknown>) : {}, stderr });
    });
  });
}


describe('memfd', () => {
  it('is sealed against shrinking by default; two mappings see each other; growing works, shrinking is EPERM', () => {
    const shm = memfd('pw-test', 4 * page);
    try {
      expect(shm.seals).toEqual(['seal', 'shrink']);
      expect(shm.size).toBe(4 * page);
      const a = shm.map();
      const b = shm.map({ offset: page, length: page });
      a.view()[page + 7] = 9;
      expect(b.view()[7]).toBe(9);
      expect(() => shm.resize(page)).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'ftruncate' }));
      expect(() => shm.seal('grow')).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'fcntl' }));
      shm.resize(8 * page);
      expect(shm.size).toBe(8 * page);
      expect(() => shm.map({ offset: 8 * page })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      a.unmap();
      b.unmap();
    } finally {
      shm.close();
    }
    expect(() => shm.size).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
  });

  it('seals on request: [] leaves it unsealed, seal() adds, F_SEAL_SEAL stops more', () => {
    const shm = memfd('pw-seals', page, { seals: [] });
    try {
      expect(shm.seals).toEqual([]);
      shm.seal('grow');
      expect(() => shm.resize(2 * page)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      shm.seal('seal');
      expect(shm.seals).toEqual(['seal', 'grow']);
      expect(() => shm.seal('shrink')).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => memfd('x', page, { seals: ['bogus' as never] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      expect(() => memfd('bad/\u0000', page)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    } finally {
      shm.close();
    }
  });

  it('a parent and two children write disjoint ranges and each sees the others', async () => {
    const shm = memfd('pw-xproc', 3 * page);
    const m = shm.map();
    try {
      const v = m.view();
      v.fill(1, 0, page);
      const code = (me: number, other: number) => `
        const v = shm.map().view();
        v.fill(${me + 1}, ${me * page}, ${(me + 1) * page});
        const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
        while (v[${other * page + page - 1}] !== ${other + 1}) nap(5);
        out.sawParent = v.subarray(0, ${page}).every((b) => b === 1);
        out.sawOther = v.subarray(${other * page}, ${(other + 1) * page}).every((b) => b === ${other + 1});
        out.seals = shm.seals;
      `;
      const [a, b] = await Promise.all([childWithFd(shm.fd, code(1, 2)), childWithFd(shm.fd, code(2, 1))]);
      for (const r of [a, b]) {
        expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
        expect(r.out).toEqual({ sawParent: true, sawOther: true, seals: ['seal', 'shrink'] });
      }
      expect(v.subarray(page, 2 * page).every((x) => x === 2)).toBe(true);
      expect(v.subarray(2 * page).every((x) => x === 3)).toBe(true);
    } finally {
      m.unmap();
      shm.close();
    }
  });

  it('a child that tries to shrink a sealed memfd gets EPERM, and nobody gets SIGBUS', async () => {
    const shm = memfd('pw-shrink', 4 * page);
    const m = shm.map();
    try {
      m.view().fill(7);
      const r = await childWithFd(shm.fd, `
        try { require('fs').ftruncateSync(3, 0); out.truncated = true; } catch (e) { out.code = e.code; }
        out.read = shm.map().view()[4 * ${page} - 1];
      `);
      expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
      expect(r.out).toEqual({ code: 'EPERM', read: 7 });
      expect(m.view()[4 * page - 1]).toBe(7);
    } finally {
      m.unmap();
      shm.close();
    }
  });

  it('fromFd refuses a descriptor not sealed against shrinking unless allowShrink; the unsealed child is killed by SIGBUS when the file shrinks', async () => {
    const shm = memfd('pw-unsealed', 2 * page, { seals: [] });
    try {
      const refused = await childWithFd(shm.fd, `out.ok = true;`);
      expect(refused.out.error).toEqual(['ERR_INVALID_STATE', expect.stringMatching(/not sealed against shrinking.*SIGBUS.*allowShrink/)]);
      // The risk it names, shown: the parent truncates under a child's mapping.
      const mine = shm.map({ length: page });
      const flag = mine.view();
      const victim = childWithFd(shm.fd, `
        const m = shm.map(); const v = m.view(); out.before = v[${page}];
        v[0] = 1; // ready
        const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
        while (shm.size !== 0) nap(5);
        out.after = v[${page}];
        out.length = m.length; // the mapping stays referenced until the read
      `, true);
      while (flag[0] !== 1) await new Promise((r) => setTimeout(r, 5));
      mine.unmap(); // this process does not touch it after the truncation
      shm.resize(0);
      const r = await victim;
      // On failure the child's status, output and stderr say what it did instead.
      expect({ signal: r.signal, status: r.status, out: r.out, stderr: r.stderr.slice(0, 400) }).toMatchObject({ signal: 'SIGBUS' });
    } finally {
      shm.close();
    }
    // A regular file: not sealable at all.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-fromfd-'));
    const fd = fs.openSync(path.join(dir, 'f'), 'w+');
    try {
      fs.ftruncateSync(fd, page);
      expect(() => SharedMemory.fromFd(fd)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      const s = SharedMemory.fromFd(fd, { allowShrink: true });
      expect(s.seals).toBeNull();
      expect(() => s.seal('shrink')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('POSIX shared memory', () => {
  it('shmOpen creates, a second open by name sees the data, shmUnlink removes it', () => {
    const name = `pagewise-test-${process.pid}`;
    const a = shmOpen(name, { create: true, exclusive: true, size: 2 * page });
    try {
      // tmpfs files cannot be sealed: the kernel reports F_SEAL_SEAL.
      expect(a.seals).toEqual(['seal']);
      const m = a.map();
      m.view()[5] = 33;
      const b = shmOpen(name);
      expect(b.size).toBe(2 * page);
      const n = b.map();
      expect(n.view()[5]).toBe(33);
      expect(() => shmOpen(name, { create: true, exclusive: true })).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'open' }));
      n.unmap();
      b.close();
      m.unmap();
    } finally {
      a.close();
      shmUnlink(name);
    }
    expect(fs.existsSync(`/dev/shm/${name}`)).toBe(false);
    expect(() => shmOpen(name)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => shmOpen('a/b')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe('worker threads: share() and attach()', () => {
  it('four workers increment disjoint counters; one unmaps early, the others keep reading; the memory goes after the last release', async () => {
    const m = mmap(4 * page);
    const token = m.share();
    const workerCode = `
      const { parentPort, workerData } = require('node:worker_threads');
      const pw = require(${JSON.stringify(DIST)});
      const m = pw.attach(workerData.token);
      const u = new Int32Array(m.buffer);
      const i = workerData.i;
      for (let k = 0; k < 1000; k++) u[i * 256] += 1;
      if (i === 0) { m.unmap(); parentPort.postMessage({ i, unmapped: true }); }
      else parentPort.postMessage({ i, sameAddress: m.address === workerData.token.address, read: u[i * 256] });
    `;
    const results = await Promise.all(
      [0, 1, 2, 3].map(
        (i) =>
          new Promise<Record<string, unknown>>((resolve, reject) => {
            const w = new Worker(workerCode, { eval: true, workerData: { token: { ...token, address: m.address }, i } });
            let msg: Record<string, unknown> = {};
            w.on('message', (x: Record<string, unknown>) => (msg = x));
            w.on('error', reject);
            w.on('exit', () => resolve(msg));
          }),
      ),
    );
    expect(results).toEqual([
      { i: 0, unmapped: true },
      { i: 1, sameAddress: true, read: 1000 },
      { i: 2, sameAddress: true, read: 1000 },
      { i: 3, sameAddress: true, read: 1000 },
    ]);
    const u = new Int32Array(m.buffer);
    expect([u[0], u[256], u[512], u[768]]).toEqual([1000, 1000, 1000, 1000]);
    // Writes from this thread after a worker unmapped and exited: still there.
    u[1] = 5;
    expect(u[1]).toBe(5);
    const at = m.address;
    m.unmap();
    // Released once this thread's buffers are collected (in a child with --expose-gc below); here it is either gone or a placeholder.
    expect(typeof inMaps(at)).toBe('boolean');
  });

  it('the mapping leaves /proc/self/maps only after the last holder lets go (child with --expose-gc)', async () => {
    const script = `const pw = require(${JSON.stringify(DIST)}); const { Worker } = require('node:worker_threads'); const out = {};
      const inMaps = (a) => require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').some((l) => { const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l); return m && BigInt('0x' + m[1]) <= a && a < BigInt('0x' + m[2]); });
      const settle = async () => { for (let i = 0; i < 8; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); } };
      (async () => {
        let m = pw.mmap(1 << 20); const at = m.address; new Uint8Array(m.buffer)[0] = 1;
        const w = new Worker(\`const { parentPort, workerData } = require('node:worker_threads'); const pw = require(\${JSON.stringify(${JSON.stringify(DIST)})});
          const m = pw.attach(workerData); parentPort.postMessage(new Uint8Array(m.buffer)[0]); parentPort.once('message', () => { m.unmap(); parentPort.postMessage('unmapped'); });\`, { eval: true, workerData: m.share() });
        // Listen for 'exit' now: Node 26 can deliver the last message and 'exit' in one turn.
        const exited = new Promise((r) => w.once('exit', r));
        out.workerRead = await new Promise((r) => w.once('message', r));
        m.unmap(); m = null; await settle();
        out.heldByWorker = inMaps(at);
        w.postMessage('go'); await new Promise((r) => w.once('message', r));
        await exited; await settle();
        out.goneAfterLast = !inMaps(at);
        console.log(JSON.stringify(out));
      })();`;
    const r = await new Promise<{ stdout: string; status: number | null }>((resolve) => {
      const c = spawn(process.execPath, ['--expose-gc', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      c.on('close', (status) => resolve({ stdout, status }));
    });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ workerRead: 1, heldByWorker: true, goneAfterLast: true });
  });

  it('while shared, protect() cannot take write access away and resize() is refused; share() needs rw throughout', () => {
    const m = mmap(4 * page);
    const other = attach(m.share());
    try {
      expect(m.sharedHolders).toBe(2);
      expect(() => m.protect('r')).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_STATE' }));
      expect(() => other.resize(8 * page)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      expect(m.protection(0)).toBe('rw');
    } finally {
      other.unmap();
      m.unmap();
    }
    const p = mmap(2 * page);
    p.protect('r', page, page);
    expect(() => p.share()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    p.unmap();
    expect(() => attach({ pagewiseShare: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => attach({ pagewiseShare: 1, id: 987654321n, length: page, pageSize: page, kind: { file: false, shared: false, noReserve: false, hugePages: false }, pid: process.pid })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_STATE' }),
    );
  });

  it('sharedBuffer: a real SharedArrayBuffer where Node-API can make one (Atomics across workers), a clear error elsewhere', async () => {
    const m = mmap(page);
    try {
      if (!native.sharedBufferSupported()) {
        expect(() => m.sharedBuffer).toThrow(expect.objectContaining({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Node/) }));
        return;
      }
      const sab = m.sharedBuffer;
      expect(sab).toBeInstanceOf(SharedArrayBuffer);
      expect(m.sharedBuffer).toBe(sab);
      const ia = new Int32Array(sab);
      const workers = [0, 1, 2, 3].map(() => new Worker(`const { workerData } = require('node:worker_threads'); const ia = new Int32Array(workerData); for (let k = 0; k < 10000; k++) Atomics.add(ia, 0, 1); Atomics.add(ia, 1, 1); Atomics.notify(ia, 1);`, { eval: true, workerData: sab }));
      await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
      expect(Atomics.load(ia, 0)).toBe(40000);
      expect(new Int32Array(m.buffer)[1]).toBe(4);
    } finally {
      m.unmap();
    }
  });
});

describe('benchShareHandoff', () => {
  it('hands memory to a worker both ways and reports each size (the worker reads the first and last byte each time)', async () => {
    const rows = await benchShareHandoff({ sizes: [page, 4 * page], runs: 1 });
    expect(rows.map((r) => r.bytes)).toEqual([page, 4 * page]);
    for (const r of rows) {
      expect(r.shareUs).toBeGreaterThan(0);
      expect(r.copyUs).toBeGreaterThan(0);
      expect(r.ratio).toBeCloseTo(r.shareUs / r.copyUs, 10);
    }
    await expect(benchShareHandoff({ sizes: [0] })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });
});
