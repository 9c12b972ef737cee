/**
 * Property (issue 22): random orders of the calls that share, resize, guard
 * and seal memory never crash the process, never throw anything but a
 * TypeError, a RangeError or a system error with code/errno/syscall, and
 * never lose or corrupt a byte: every byte written through a view is read
 * back after every step, and every live mapping is where /proc/self/maps says
 * with the protection the model gave it.
 *
 * The surface: private and shared anonymous memory, memfd mappings (resized
 * with SharedMemory.resize), private file mappings; resize (grow, shrink,
 * move), guard/unguard, seal, protect, share()/attach() in this thread and in
 * real workers (which attach through a token sent over shared memory, write,
 * unmap, and are terminated while holding views), transfer() and GC in
 * between. The model follows what each call did (it succeeded or it did
 * not) and asserts the refusals the holder model promises.
 *
 * Fixed seeds: PROPERTY_SEQUENCES sequences of 200 steps (CI's full tier
 * 500: 100,000 steps; `npm test` 100, see helpers/tier.ts). PAGEWISE_SHARING_SEED (or PAGEWISE_SEED) picks another
 * seed; the runtime matrix gives each runtime its own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { tierCount } from './helpers/tier';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { attach, kernelHas, memfd, mmap, pageSize, type Mapping, type ShareToken, type SharedMemory } from '../lib/index';
import { HANG_GUARD_MS } from './helpers/child';
import { classify } from './helpers/model/tally';
import { unmeasurable } from './helpers/emulation';
import { ask, newWorker, type ModelWorker } from './helpers/model/sharing-workers';
import { opArb, type Mem, type ModelMapping, type Op } from './helpers/model/sharing-ops';

const page = pageSize();
const STEPS = 200;
const SEQUENCES = tierCount(process.env.PROPERTY_SEQUENCES, 500, 100);
const seed = Number(process.env.PAGEWISE_SHARING_SEED ?? process.env.PAGEWISE_SEED ?? 20261207);
const hasGuard = kernelHas('guard');
const hasSeal = kernelHas('mseal');
const canTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-share-model-'));

const workers: ModelWorker[] = [newWorker(), newWorker()];
afterAll(async () => {
  await Promise.all(workers.map((x) => x.w.terminate()));
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- the model

const tally = { steps: 0, sequences: 0, refusals: 0, bytesChecked: 0, mapsChecks: 0, workerWrites: 0, terminations: 0, resizes: 0, moves: 0 };

class World {
  maps: ModelMapping[] = [];
  escaped: Uint8Array[] = [];
  shms: SharedMemory[] = [];

  pick(i: number): ModelMapping | undefined {
    return this.maps.length ? this.maps[i % this.maps.length] : undefined;
  }

  /** Runs fn; null on success, else the error's class (unexpected shapes throw). */
  /** The error of the last failed attempt() (for the messages of failed expectations). */
  lastError: unknown;

  /** The last steps with what their calls gave, for the message of a failed check. */
  readonly recent: string[] = [];
  current: Op | null = null;

  attempt(fn: () => unknown): 'validation' | 'state' | 'system' | null {
    this.lastError = undefined;
    let c: 'validation' | 'state' | 'system' | null = null;
    try {
      fn();
    } catch (err) {
      this.lastError = err;
      tally.refusals++;
      c = classify(err);
    }
    this.recent.push(`${JSON.stringify(this.current)} -> ${c ?? 'ok'}${c ? ` (${String((this.lastError as Error).message).slice(0, 90)})` : ''}`);
    if (this.recent.length > 40) this.recent.shift();
    if (process.env.PAGEWISE_LOG_STEPS) fs.appendFileSync(process.env.PAGEWISE_LOG_STEPS, `  -> ${this.recent[this.recent.length - 1]}\n`);
    return c;
  }

  holders(x: ModelMapping): number {
    return x.peers.length + workers.filter((w) => w.mem === x.mem).length;
  }

  writableRange(x: ModelMapping, p: number, n: number): boolean {
    for (let k = p; k < p + n; k++) if (x.prot[k] !== 'rw' || x.guarded[k]) return false;
    return true;
  }

  forget(x: ModelMapping): void {
    this.maps.splice(this.maps.indexOf(x), 1);
    for (const y of x.peers) y.peers = y.peers.filter((z) => z !== x);
  }

  apply(op: Op): void {
    tally.steps++;
    this.current = op;
    switch (op.t) {
      case 'mmap': {
        if (this.maps.length >= 6) {
          // The oldest goes (a sealed one stays mapped for the life of the process: the model lets go of it).
          const old = this.maps[0]!;
          if (!old.sealed) old.m.unmap();
          this.forget(old);
        }
        const len = op.pages * page;
        let m: Mapping;
        let shm: SharedMemory | null = null;
        let base = 0;
        let limit = Infinity;
        if (op.kind === 'memfd') {
          shm = memfd('pw-model', len, { seals: [] });
          this.shms.push(shm);
          m = shm.map();
        } else if (op.kind === 'filePrivate') {
          const f = path.join(dir, `f${tally.steps}`);
          fs.writeFileSync(f, Buffer.alloc(len, 0x5a));
          const fd = fs.openSync(f, 'r+');
          try {
            m = mmap(len, { file: { fd } });
          } finally {
            fs.closeSync(fd);
            fs.rmSync(f);
          }
          base = 0x5a;
          limit = op.pages;
        } else {
          m = mmap(len, { shared: op.kind === 'anonShared' });
          if (op.kind === 'anonShared') limit = op.pages;
        }
        const mem: Mem = { written: new Map(), base, unknown: new Set() };
        this.maps.push({ m, kind: op.kind, mem, pages: op.pages, limit, prot: Array(op.pages).fill('rw'), guarded: Array(op.pages).fill(false), sealed: false, shm, token: null, peers: [], views: [] });
        return;
      }
      case 'unmap':
      case 'drop': {
        const x = this.pick(op.i);
        if (!x) return;
        if (op.t === 'unmap') {
          const r = this.attempt(() => x.m.unmap());
          if (x.sealed) {
            expect(r).toBe('system');
            return;
          }
          expect(r).toBe(null);
          for (const v of x.views) expect(v.u8.byteLength).toBe(0);
        }
        this.forget(x);
        return;
      }
      case 'view': {
        const x = this.pick(op.i);
        if (!x) return;
        const p = op.p % x.pages;
        const n = Math.max(1, Math.min(op.n, x.pages - p));
        const r = this.attempt(() => x.views.push({ u8: x.m.view(p * page, n * page), off: p * page }));
        if (x.views.length > 4) x.views.shift();
        // A view is made exactly over read-write, unguarded pages.
        expect(r === null).toBe(this.writableRange(x, p, n));
        return;
      }
      case 'write': {
        const all = this.maps.flatMap((x) => x.views.map((v) => [x, v] as const));
        if (!all.length) return;
        const [x, { u8: v, off }] = all[op.v % all.length]!;
        if (v.byteLength === 0) {
          v[0] = op.byte; // detached: goes nowhere, never a crash
          return;
        }
        const at = op.pos % v.byteLength;
        v[at] = op.byte;
        x.mem.written.set(off + at, op.byte);
        return;
      }
      case 'resize': {
        const x = this.pick(op.i);
        if (!x) return;
        tally.resizes++;
        const old = x.pages;
        const before = x.m.address;
        const r = this.attempt(() => x.m.resize(op.pages * page, { mayMove: op.mayMove }));
        // A memfd mapping reaches as far as the object's size now (a RangeError past it).
        const limit = x.kind === 'memfd' ? Math.ceil(x.shm!.size / page) : x.limit;
        if (op.pages > limit) expect(r === 'validation' || r === 'state' || (x.sealed && r === 'system')).toBe(true);
        else if (this.holders(x) > 0 && op.pages !== old && !x.sealed) expect(r).toBe('state');
        if (x.kind === 'memfd' && op.pages > old && r === null) expect((x.shm!.size) >= op.pages * page).toBe(true);
        if (r !== null) return;
        if (x.m.address !== before) tally.moves++;
        x.pages = op.pages;
        const last = x.prot[old - 1]!;
        x.prot = x.prot.slice(0, op.pages);
        x.guarded = x.guarded.slice(0, op.pages);
        while (x.prot.length < op.pages) {
          x.prot.push(last);
          x.guarded.push(false);
        }
        // Bytes past the new end are gone; memory that grows back reads as new (anonymous private: zeros).
        if (x.kind === 'anon' || x.kind === 'filePrivate') for (const o of [...x.mem.written.keys()]) if (o >= op.pages * page) x.mem.written.delete(o);
        if (x.kind === 'filePrivate') for (let k = old; k < op.pages; k++) x.mem.unknown.add(k);
        return;
      }
      case 'protect': {
        const x = this.pick(op.i);
        if (!x) return;
        const p = op.p % x.pages;
        const n = Math.max(1, Math.min(op.n, x.pages - p));
        const r = this.attempt(() => x.m.protect(op.prot, p * page, n * page));
        const lowers = op.prot !== 'rw';
        if (lowers && this.holders(x) > 0) expect(r).toBe('state');
        // A failed lowering may have changed part of the range (mprotect goes VMA by VMA): the Mapping records it
        // lowered. Not a sealed mapping's EPERM: mseal is checked before any change.
        if (r === null || (r === 'system' && lowers && !x.sealed)) for (let k = p; k < p + n; k++) x.prot[k] = op.prot;
        return;
      }
      case 'guard': {
        const x = this.pick(op.i);
        if (!x || !hasGuard || x.kind !== 'anon') return;
        const p = op.p % x.pages;
        const n = Math.min(op.n, x.pages - p);
        const r = this.attempt(() => (op.on ? x.m.guard(p * page, n * page) : x.m.unguard(p * page, n * page)));
        // A guard() the kernel refused part-way (EPERM at a sealed read-only VMA) may have installed guards (which
        // zap the pages) before it: the Mapping records the whole range guarded, and so does the model; what those
        // pages hold is unknown from then on.
        if (r === 'system' && op.on) {
          for (let k = p; k < p + n; k++) {
            x.mem.unknown.add(k); // zapped if its guard went in, kept if not
            x.guarded[k] = true;
          }
          return;
        }
        if (r !== null) return;
        for (let k = p; k < p + n; k++) {
          // Guarded pages lose their contents (removed guards read as zero); unguarding a plain page changes nothing.
          if (op.on || x.guarded[k]) for (let o = k * page; o < (k + 1) * page; o++) x.mem.written.delete(o);
          x.guarded[k] = op.on;
        }
        return;
      }
      case 'seal': {
        const x = this.pick(op.i);
        if (!x || !hasSeal || x.kind !== 'anon') return;
        if (this.attempt(() => x.m.seal()) === null) x.sealed = true;
        return;
      }
      case 'share': {
        const x = this.pick(op.i);
        if (!x) return;
        const r = this.attempt(() => (x.token = x.m.share()));
        const rw = x.prot.every((pr) => pr === 'rw') && x.guarded.every((g) => !g);
        expect(r === null, `share() ${r ?? 'succeeded'} (${String(this.lastError)}); model: prot ${x.prot.join()}, guarded ${x.guarded.join()}`).toBe(rw);
        return;
      }
      case 'attach': {
        const x = this.pick(op.i);
        if (!x || !x.token || this.maps.length >= 6) return;
        let a: Mapping | null = null;
        const r = this.attempt(() => (a = attach(x.token!)));
        // A token attaches while the memory is read-write throughout, unguarded, and its size has not changed since share().
        if (r !== null) return;
        expect(x.pages * page).toBe(x.token.length);
        expect(x.prot.every((pr) => pr === 'rw') && x.guarded.every((g) => !g)).toBe(true);
        const y: ModelMapping = { ...x, m: a!, peers: [x, ...x.peers], views: [], token: null, sealed: false };
        for (const z of x.peers) z.peers.push(y);
        x.peers.push(y);
        this.maps.push(y);
        return;
      }
      case 'shmResize': {
        const x = this.pick(op.i);
        if (!x || !x.shm) return;
        const before = x.shm.size;
        const r = this.attempt(() => x.shm!.resize(op.pages * page));
        // Never below a mapping this process has of it.
        if (op.pages < x.pages) expect(r).toBe('state');
        if (r === null && op.pages * page < before) for (const o of [...x.mem.written.keys()]) if (o >= op.pages * page) x.mem.written.delete(o);
        return;
      }
      case 'transfer': {
        if (!canTransfer) return;
        const all = this.maps.flatMap((x) => x.views.map((v) => [x, v] as const)).filter(([, v]) => v.u8.byteLength > 0);
        if (!all.length) return;
        const [x, { u8: v, off }] = all[op.v % all.length]!;
        const ab = v.buffer as ArrayBuffer & { transfer(): ArrayBuffer };
        // Pages a moved buffer can reach (its whole ArrayBuffer) are no longer the model's to know.
        const from = off - v.byteOffset;
        for (let k = Math.floor(from / page); k * page < from + ab.byteLength; k++) x.mem.unknown.add(k);
        this.escaped.push(new Uint8Array(ab.transfer()));
        if (this.escaped.length > 6) this.escaped.shift();
        return;
      }
      case 'escapedWrite': {
        if (!this.escaped.length) return;
        const e = this.escaped[op.e % this.escaped.length]!;
        if (!e.byteLength) return;
        const at = op.pos % e.byteLength;
        e[at] = op.byte;
        expect(e[at]).toBe(op.byte);
        return;
      }
      case 'gc':
        this.escaped.length = op.i % 2 === 0 ? 0 : this.escaped.length;
        gc();
        return;
      case 'wAttach': {
        const x = this.pick(op.i);
        const wk = workers[op.w]!;
        if (!x || !x.token) return;
        const t = x.token;
        const res = ask(wk, 1, Number(t.id & 0xffffffffn), Number(t.id >> 32n), t.length, t.pageSize, kindBits(t.kind));
        if (res === 1) {
          expect(x.pages * page).toBe(t.length);
          expect(x.prot.every((pr) => pr === 'rw') && x.guarded.every((g) => !g)).toBe(true);
          wk.mem = x.mem;
        } else {
          expect(res === -1 || res === -2).toBe(true);
          wk.mem = null;
        }
        return;
      }
      case 'wWrite': {
        const wk = workers[op.w]!;
        if (!wk.mem) return;
        const x = this.maps.find((y) => y.mem === wk.mem);
        if (!x) return;
        const at = op.pos % (x.pages * page);
        if (ask(wk, 2, at, op.byte) === 1) {
          tally.workerWrites++;
          wk.mem.written.set(at, op.byte);
          expect(ask(wk, 3, at)).toBe(1000 + op.byte);
        }
        return;
      }
      case 'wUnmap': {
        const wk = workers[op.w]!;
        expect(ask(wk, 4)).toBe(1);
        wk.mem = null;
        return;
      }
      case 'wTerminate':
        return; // handled by the async runner
      case 'check':
        return this.check();
    }
  }

  /** Every byte the model knows reads back; every live mapping is in /proc/self/maps with its protection. */
  check(): void {
    tally.mapsChecks++;
    const maps = fs.readFileSync('/proc/self/maps', 'latin1').split('\n').map((l) => /^([0-9a-f]+)-([0-9a-f]+) (\S{4})/.exec(l)).filter((m) => m !== null).map((m) => ({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3]! }));
    for (const x of this.maps) {
      const at = x.m.address;
      for (let k = 0; k < x.pages; k++) {
        const a = at + BigInt(k * page);
        const e = maps.find((en) => en.start <= a && a < en.end);
        if (!e) throw new Error(`page ${k} of a live ${x.kind} mapping is not in /proc/self/maps`);
        const want = x.prot[k] === 'rw' ? 'rw' : x.prot[k] === 'r' ? 'r-' : '--';
        if (e.perms.slice(0, 2) !== want) throw new Error(`page ${k} of a ${x.kind} mapping (#${this.maps.indexOf(x)} of ${this.maps.length}, ${x.peers.length} peers): maps says ${e.perms}, model ${x.prot[k]}; the last calls:\n${this.recent.join('\n')}`);
      }
      for (let p = 0; p < x.pages; ) {
        if (!this.writableRange(x, p, 1)) {
          p++;
          continue;
        }
        let q = p;
        while (q < x.pages && this.writableRange(x, q, 1)) q++;
        const u8 = x.m.view(p * page, (q - p) * page);
        if (process.env.PAGEWISE_LOG_STEPS) fs.appendFileSync(process.env.PAGEWISE_LOG_STEPS, `  check #${this.maps.indexOf(x)} ${x.kind} 0x${x.m.address.toString(16)} pages ${p}-${q} of ${x.pages}, guarded ${x.guarded.join()} guardedBytes ${x.m.guardedBytes}\n`);
        for (let k = p; k < q; k++) {
          if (x.mem.unknown.has(k)) continue;
          const probe = (k * 13) % page;
          tally.bytesChecked++;
          const want = x.mem.written.get(k * page + probe) ?? x.mem.base;
          if (u8[(k - p) * page + probe] !== want) throw new Error(`${x.kind} page ${k} byte ${probe}: reads ${u8[(k - p) * page + probe]}, model ${want}`);
        }
        for (const [o, b] of x.mem.written) {
          if (o < p * page || o >= q * page || x.mem.unknown.has(Math.floor(o / page))) continue;
          tally.bytesChecked++;
          if (u8[o - p * page] !== b) throw new Error(`${x.kind} byte ${o}: reads ${u8[o - p * page]}, written ${b}`);
        }
        p = q;
      }
    }
  }

  dispose(): void {
    for (const w of workers) if (w.mem) ask(w, 4), (w.mem = null);
    for (const x of [...this.maps]) if (!x.sealed) x.m.unmap();
    for (const s of this.shms) s.close();
    this.maps = [];
    this.escaped = [];
  }
}

function kindBits(k: ShareToken['kind']): number {
  return (k.file ? 1 : 0) | (k.shared ? 2 : 0) | (k.noReserve ? 4 : 0) | (k.hugePages ? 8 : 0);
}

/** Runs one sequence: every step, then the whole model against the kernel. */
async function runSequence(ops: Op[], log = false): Promise<void> {
  tally.sequences++;
  const world = new World();
  try {
    let terminated = 0;
    for (const [k, op] of ops.entries()) {
      if (log) console.error(k, JSON.stringify(op));
      // PAGEWISE_LOG_STEPS=file appends every step before it runs (survives a crash of the test process).
      if (process.env.PAGEWISE_LOG_STEPS) fs.appendFileSync(process.env.PAGEWISE_LOG_STEPS, `${k} ${JSON.stringify(op)}\n`);
      if (op.t === 'wTerminate') {
        // A worker stopped while it holds views of attached memory; one per sequence (each costs a thread).
        if (terminated++ > 0) continue;
        tally.terminations++;
        const old = workers[op.w]!;
        workers[op.w] = newWorker();
        await old.w.terminate();
        continue;
      }
      world.apply(op);
      world.check();
    }
  } finally {
    world.dispose();
  }
}

describe('random orders of share, attach, resize, guard, seal, memfd resize, transfer and GC', () => {
  // PAGEWISE_REPLAY=file.json replays one counterexample, step by step, with a log.
  it.runIf(process.env.PAGEWISE_REPLAY !== undefined)('replays a counterexample', async () => {
    // The Counterexample line fast-check prints is [ops]: both shapes are taken.
    const parsed = JSON.parse(fs.readFileSync(process.env.PAGEWISE_REPLAY!, 'utf8')) as Op[] | [Op[]];
    await runSequence(Array.isArray(parsed[0]) ? (parsed as [Op[]])[0] : (parsed as Op[]), true);
  });

  it.skipIf(process.env.PAGEWISE_REPLAY !== undefined || unmeasurable(['dontneedZeroes'], 'random sequences of shared and resized memory'))(`never crash, lose a byte or disagree with /proc/self/maps (seed ${seed}, ${SEQUENCES} x ${STEPS} steps)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb(), { minLength: STEPS, maxLength: STEPS }), (ops) => runSequence(ops)),
      { seed, numRuns: SEQUENCES, endOnFailure: process.env.PAGEWISE_NO_SHRINK !== undefined },
    );
    console.log(`reliability-property-sharing: seed ${seed}, ${JSON.stringify(tally)}`);
    expect(tally.steps).toBeGreaterThanOrEqual(SEQUENCES * STEPS * 0.9);
    expect(tally.bytesChecked).toBeGreaterThan(0);
  }, HANG_GUARD_MS);
});
