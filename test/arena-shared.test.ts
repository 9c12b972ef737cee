/**
 * SharedArena: one arena of handle blocks used by several real
 * worker threads at once. Blocks allocated in one worker are written there
 * and freed in another; many workers allocate and free concurrently while
 * every live block's bytes (a pattern computed from its handle) are checked;
 * forged, stale and double frees are refused across workers; a worker
 * terminated in the middle of its loop blocks nobody; and a fast-check
 * property test drives cross-worker sequences against a model.
 * No mocks, no wall-clock thresholds.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SharedArena, type SharedArenaToken } from '../lib/index';
import { DIST } from './helpers/child';
import { tierCount } from './helpers/tier';

// The byte pattern of a block: every byte follows from the handle, so any
// worker can check any block, and two overlapping live blocks disagree.
const PATTERN = `
function fill(heap, h, n) { for (let i = 0; i < n; i++) heap[h + i] = ((h >>> 4) + i * 7) & 255; }
function check(heap, h, n) { for (let i = 0; i < n; i++) if (heap[h + i] !== (((h >>> 4) + i * 7) & 255)) return false; return true; }`;
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const { fill, check } = new Function(`${PATTERN}; return { fill, check };`)() as {
  fill: (heap: Uint8Array, h: number, n: number) => void;
  check: (heap: Uint8Array, h: number, n: number) => boolean;
};

// A worker that serves requests synchronously over a SharedArrayBuffer:
// c[0] the op (0 idle), f[1..2] arguments, f[3] the result, c[12] set when attach failed.
//   1 alloc(size) -> handle (filled with the pattern over sizeOfHandle)
//   2 free(h) -> 1, or -2 refused (ERR_INVALID_ARG_VALUE), -3 other error
//   3 check(h) -> 1 when the live block's bytes are its pattern
//   4 close -> 1
const SERVER = `
const { workerData } = require('node:worker_threads');
const pw = require(${JSON.stringify(DIST)});
${PATTERN}
const c = new Int32Array(workerData.ctl);
const f = new Float64Array(workerData.ctl);
let arena;
try { arena = pw.SharedArena.attach(workerData.token); } catch (e) { Atomics.store(c, 12, 1); Atomics.notify(c, 0); throw e; }
for (;;) {
  Atomics.wait(c, 0, 0);
  const op = c[0];
  let res = 0;
  try {
    if (op === 1) { const h = arena.allocHandle(f[1]); fill(arena.heap, h, arena.sizeOfHandle(h)); res = h; }
    else if (op === 2) { arena.freeHandle(f[1]); res = 1; }
    else if (op === 3) { res = check(arena.heap, f[1], arena.sizeOfHandle(f[1])) ? 1 : 0; }
    else if (op === 4) { arena.close(); res = 1; }
  } catch (e) { res = e.code === 'ERR_INVALID_ARG_VALUE' ? -2 : e.code === 'ERR_INVALID_STATE' ? -4 : -3; }
  f[3] = res;
  Atomics.store(c, 0, 0);
  Atomics.notify(c, 0);
}`;

interface Server {
  w: Worker;
  c: Int32Array;
  f: Float64Array;
}

const live: Worker[] = [];
afterAll(async () => {
  await Promise.all(live.map((w) => w.terminate()));
});

function server(token: SharedArenaToken): Server {
  const ctl = new SharedArrayBuffer(64);
  const w = new Worker(SERVER, { eval: true, workerData: { ctl, token } });
  w.unref();
  live.push(w);
  return { w, c: new Int32Array(ctl), f: new Float64Array(ctl) };
}

function ask(s: Server, op: number, arg = 0): number {
  s.f[1] = arg;
  Atomics.store(s.c, 0, op);
  Atomics.notify(s.c, 0);
  // A worker that could not attach answers nothing (c[12] set): say so instead of waiting forever.
  while (Atomics.load(s.c, 0) !== 0 && Atomics.load(s.c, 12) === 0) Atomics.wait(s.c, 0, op, 1000);
  if (Atomics.load(s.c, 12) !== 0) throw new Error('the worker could not attach the arena');
  return s.f[3]!;
}

function noOverlap(arena: SharedArena, handles: Iterable<number>): void {
  const blocks = [...handles].map((h) => [h, h + arena.sizeOfHandle(h)] as const).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < blocks.length; i++) expect(blocks[i]![0]).toBeGreaterThanOrEqual(blocks[i - 1]![1]);
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('SharedArena across workers', () => {
  it('a block allocated and written in worker A is read and freed in worker B, and the main thread sees it', () => {
    using arena = new SharedArena({ reserve: 16 << 20 });
    const a = server(arena.share());
    const b = server(arena.share());
    const h = ask(a, 1, 100);
    expect(h).toBeGreaterThanOrEqual(0);
    expect(check(arena.heap, h, arena.sizeOfHandle(h))).toBe(true);
    expect(ask(b, 3, h)).toBe(1);
    expect(ask(b, 2, h)).toBe(1);
    expect(arena.stats().handles).toBe(0);
    // Freed in B: refused everywhere now (stale / double free), nothing written.
    expect(ask(a, 2, h)).toBe(-2);
    expect(ask(b, 2, h)).toBe(-2);
    expect(code(() => arena.freeHandle(h))).toBe('ERR_INVALID_ARG_VALUE');
    // Main allocates, a worker frees.
    const g = arena.allocHandle(5000);
    fill(arena.heap, g, arena.sizeOfHandle(g));
    expect(ask(a, 3, g)).toBe(1);
    expect(ask(a, 2, g)).toBe(1);
    expect(arena.stats().handles).toBe(0);
  });

  it('forged handles are refused in every worker before anything is written', () => {
    using arena = new SharedArena({ reserve: 16 << 20 });
    const a = server(arena.share());
    const h = arena.allocHandle(48); // class 48: slots at 0, 48, 96, ...
    fill(arena.heap, h, 48);
    const before = arena.stats();
    for (const x of [h + 16, h + 48, -16, 0.5, NaN, Infinity, 2 ** 32, arena.reserved, 65536, 1 << 20, h + 1]) {
      expect(code(() => arena.freeHandle(x))).toBe('ERR_INVALID_ARG_VALUE');
      expect(ask(a, 2, x)).toBe(-2);
    }
    expect(code(() => arena.freeHandle('0' as unknown as number))).toBe('ERR_INVALID_ARG_TYPE');
    expect(code(() => arena.sizeOfHandle(h + 16))).toBe('ERR_INVALID_ARG_VALUE');
    expect(code(() => arena.bytes(h + 48))).toBe('ERR_INVALID_ARG_VALUE');
    expect({ ...arena.stats(), holders: 0 }).toEqual({ ...before, holders: 0 });
    expect(check(arena.heap, h, 48)).toBe(true);
    // Size limits and arguments.
    expect(code(() => arena.allocHandle(arena.reserved + 1))).toBe('ERR_OUT_OF_RANGE');
    expect(arena.tryAllocHandle(arena.reserved + 1)).toBe(-1);
    expect(code(() => arena.tryAllocHandle(arena.reserved + 1, 3))).toBe('ERR_OUT_OF_RANGE');
    expect(code(() => arena.allocHandle(-1))).toBe('ERR_OUT_OF_RANGE');
    expect(code(() => arena.allocHandle(1, 3))).toBe('ERR_OUT_OF_RANGE');
    const aligned = arena.allocHandle(100, 1024);
    expect(aligned % 1024).toBe(0);
    expect(code(() => SharedArena.prototype.allocHandle.call({}, 1))).toBe('ERR_INVALID_THIS');
    arena.freeHandle(aligned);
    arena.freeHandle(h);
  });

  it('forged and mismatched tokens are refused; a closed thread is refused, the others go on', () => {
    const arena = new SharedArena({ reserve: 1 << 20 });
    const other = new SharedArena({ reserve: 1 << 20 });
    const t = arena.share();
    expect(code(() => SharedArena.attach({ ...t, meta: other.share().meta }))).toBe('ERR_INVALID_ARG_VALUE');
    expect(code(() => SharedArena.attach({ ...t, meta: new SharedArrayBuffer(t.meta.byteLength) }))).toBe('ERR_INVALID_ARG_VALUE');
    expect(code(() => SharedArena.attach({ ...t, meta: new ArrayBuffer(8) as unknown as SharedArrayBuffer }))).toBe('ERR_INVALID_ARG_TYPE');
    expect(code(() => SharedArena.attach({} as SharedArenaToken))).toBe('ERR_INVALID_ARG_TYPE');
    const a = server(t);
    const h = arena.allocHandle(64);
    fill(arena.heap, h, 64);
    expect(ask(a, 3, h)).toBe(1); // the worker holds the memory from here on
    arena.close();
    expect(code(() => arena.allocHandle(1))).toBe('ERR_INVALID_STATE');
    expect(code(() => arena.heap)).toBe('ERR_INVALID_STATE');
    // The worker still holds the memory: the block is there, and freeable.
    expect(ask(a, 3, h)).toBe(1);
    expect(ask(a, 2, h)).toBe(1);
    expect(ask(a, 4)).toBe(1);
    other.close();
  });

  it('many workers allocate, hand over and free concurrently: every live block keeps its bytes, none overlap', async () => {
    const WORKERS = 4;
    const ITER = tierCount(process.env.PAGEWISE_RUNS, 60_000, 20_000);
    using arena = new SharedArena({ reserve: 256 << 20 });
    const sab = new SharedArrayBuffer(4 * (64 + 4));
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      const pw = require(${JSON.stringify(DIST)});
      ${PATTERN}
      const arena = pw.SharedArena.attach(workerData.token);
      const ex = new Int32Array(workerData.sab); // 64 hand-over slots (h + 1, 0 empty)
      let seed = workerData.seed;
      const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
      const mine = [];
      let bad = 0, handed = 0, taken = 0;
      for (let i = 0; i < workerData.iter; i++) {
        const r = rnd(10);
        if (r < 4 || mine.length === 0) {
          const size = rnd(4) === 0 ? rnd(8193) : rnd(200);
          const h = arena.allocHandle(size);
          fill(arena.heap, h, arena.sizeOfHandle(h));
          mine.push(h);
        } else if (r < 7) {
          const k = rnd(mine.length), h = mine[k];
          mine[k] = mine[mine.length - 1]; mine.pop();
          if (!check(arena.heap, h, arena.sizeOfHandle(h))) bad++;
          arena.freeHandle(h);
        } else if (r < 8) {
          const k = rnd(mine.length), h = mine[k];
          if (Atomics.compareExchange(ex, rnd(64), 0, h + 1) === 0) { mine[k] = mine[mine.length - 1]; mine.pop(); handed++; }
        } else {
          const v = Atomics.exchange(ex, rnd(64), 0);
          if (v !== 0) { const h = v - 1; if (!check(arena.heap, h, arena.sizeOfHandle(h))) bad++; taken++; if (rnd(2) === 0) arena.freeHandle(h); else mine.push(h); }
        }
      }
      for (const h of mine) if (!check(arena.heap, h, arena.sizeOfHandle(h))) bad++;
      parentPort.postMessage({ mine, bad, handed, taken });
      arena.close();`;
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, i) =>
        new Promise<{ mine: number[]; bad: number; handed: number; taken: number }>((resolve, reject) => {
          const w = new Worker(src, { eval: true, workerData: { token: arena.share(), sab, seed: 1 + i * 7919, iter: ITER } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
      ),
    );
    const ex = new Int32Array(sab);
    const all: number[] = [];
    for (const r of results) {
      expect(r.bad).toBe(0);
      all.push(...r.mine);
    }
    for (let i = 0; i < 64; i++) if (ex[i] !== 0) all.push(ex[i]! - 1);
    expect(results.reduce((n, r) => n + r.taken, 0)).toBeGreaterThan(0);
    expect(new Set(all).size).toBe(all.length);
    expect(arena.stats().handles).toBe(all.length);
    noOverlap(arena, all);
    for (const h of all) expect(check(arena.heap, h, arena.sizeOfHandle(h))).toBe(true);
    for (const h of all) arena.freeHandle(h);
    expect(arena.stats().handles).toBe(0);
  });

  it('a worker terminated in the middle of its allocation loop blocks nobody; its blocks stay live, everyone else goes on', async () => {
    using arena = new SharedArena({ reserve: 64 << 20 });
    const ctl = new SharedArrayBuffer(16);
    const c = new Int32Array(ctl);
    const src = `
      const { workerData } = require('node:worker_threads');
      const pw = require(${JSON.stringify(DIST)});
      ${PATTERN}
      const arena = pw.SharedArena.attach(workerData.token);
      const c = new Int32Array(workerData.ctl);
      const mine = [];
      for (let i = 0; ; i++) {
        if (mine.length < 500 || (i & 1)) { const h = arena.allocHandle((i * 37) % 3000); fill(arena.heap, h, arena.sizeOfHandle(h)); mine.push(h); }
        else { const h = mine.splice((i * 13) % mine.length, 1)[0]; if (!check(arena.heap, h, arena.sizeOfHandle(h))) Atomics.add(c, 1, 1); arena.freeHandle(h); }
        if (mine.length > 2000) { for (const h of mine.splice(0, 1000)) arena.freeHandle(h); }
        Atomics.add(c, 0, 1);
      }`;
    for (let round = 0; round < 3; round++) {
      const w = new Worker(src, { eval: true, workerData: { token: arena.share(), ctl } });
      const target = Atomics.load(c, 0) + 20_000 + round * 7_777;
      while (Atomics.load(c, 0) < target) await new Promise((r) => setTimeout(r, 5));
      await w.terminate();
    }
    expect(Atomics.load(c, 1)).toBe(0);
    // Everyone else goes on: a second worker and this thread allocate and free every class.
    const a = server(arena.share());
    const mine: number[] = [];
    for (let size = 0; size <= SharedArena.maxBlock; size += 16) {
      const h = arena.allocHandle(size);
      fill(arena.heap, h, arena.sizeOfHandle(h));
      mine.push(h);
      const g = ask(a, 1, size);
      expect(g).toBeGreaterThanOrEqual(0);
      mine.push(g);
    }
    noOverlap(arena, mine);
    for (const h of mine) expect(check(arena.heap, h, arena.sizeOfHandle(h))).toBe(true);
    for (let i = 0; i < mine.length; i++) expect(i % 2 === 0 ? ask(a, 2, mine[i]!) : (arena.freeHandle(mine[i]!), 1)).toBe(1);
    // The terminated workers' blocks are still live (nobody freed them).
    expect(arena.stats().handles).toBeGreaterThan(0);
  });
});

describe('SharedArena property: cross-worker sequences against a model', () => {
  const SEQUENCES = tierCount(process.env.PROPERTY_SEQUENCES, 500, 100);
  type Op =
    | { t: 'alloc'; who: number; size: number }
    | { t: 'free'; who: number; i: number }
    | { t: 'stale'; who: number; i: number }
    | { t: 'forged'; who: number; x: number }
    | { t: 'check'; who: number; i: number };
  const who = fc.nat(2); // 0: this thread, 1 and 2: workers
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('alloc' as const), who, size: fc.oneof(fc.nat(256), fc.nat(SharedArena.maxBlock)) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('free' as const), who, i: fc.nat(1000) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('stale' as const), who, i: fc.nat(1000) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('forged' as const), who, x: fc.oneof(fc.integer({ min: -64, max: 1 << 21 }), fc.double(), fc.integer({ min: 0, max: 2 ** 32 + 16 })) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('check' as const), who, i: fc.nat(1000) }) },
  );

  it('forged, stale, double and cross-worker frees are refused exactly when the model says; live blocks keep their bytes and never overlap', () => {
    const arena = new SharedArena({ reserve: 32 << 20 });
    const servers = [server(arena.share()), server(arena.share())];
    const run = (w: number, op: number, arg: number): number => {
      if (w === 0) {
        try {
          if (op === 1) {
            const h = arena.allocHandle(arg);
            fill(arena.heap, h, arena.sizeOfHandle(h));
            return h;
          }
          if (op === 2) {
            arena.freeHandle(arg);
            return 1;
          }
          return check(arena.heap, arg, arena.sizeOfHandle(arg)) ? 1 : 0;
        } catch (e) {
          return (e as { code?: string }).code === 'ERR_INVALID_ARG_VALUE' ? -2 : -3;
        }
      }
      return ask(servers[w - 1]!, op, arg);
    };
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const liveSet = new Set<number>();
        const liveList: number[] = [];
        const freed: number[] = [];
        const drop = (h: number): void => {
          liveSet.delete(h);
          liveList.splice(liveList.indexOf(h), 1);
          freed.push(h);
        };
        for (const op of ops) {
          if (op.t === 'alloc') {
            const h = run(op.who, 1, op.size);
            expect(h).toBeGreaterThanOrEqual(0);
            expect(liveSet.has(h)).toBe(false);
            liveSet.add(h);
            liveList.push(h);
          } else if (op.t === 'free' && liveList.length > 0) {
            const h = liveList[op.i % liveList.length]!;
            expect(run(op.who, 2, h)).toBe(1);
            drop(h);
          } else if (op.t === 'stale' && freed.length > 0) {
            const h = freed[op.i % freed.length]!;
            // Refused unless the same offset was handed out again (then it is that block's handle, as in C).
            if (!liveSet.has(h)) expect(run(op.who, 2, h)).toBe(-2);
          } else if (op.t === 'forged') {
            if (!liveSet.has(op.x)) expect(run(op.who, 2, op.x)).toBe(-2);
          } else if (op.t === 'check' && liveList.length > 0) {
            expect(run(op.who, 3, liveList[op.i % liveList.length]!)).toBe(1);
          }
          expect(arena.stats().handles).toBe(liveSet.size);
        }
        noOverlap(arena, liveSet);
        for (const h of liveSet) expect(check(arena.heap, h, arena.sizeOfHandle(h))).toBe(true);
        for (const h of [...liveSet]) expect(run((h >>> 4) % 3, 2, h)).toBe(1);
        expect(arena.stats().handles).toBe(0);
      }),
      { numRuns: SEQUENCES, seed: Number(process.env.PAGEWISE_SEED ?? 20261207) },
    );
    arena.close();
  });
});

describe('SharedArena: blocks above maxBlock (runs of 64 KiB spans)', () => {
  const SPAN = 65536;

  it('are whole spans shared across workers, refused inside and after their free, given back and reused first fit', () => {
    using arena = new SharedArena({ reserve: 16 << 20 });
    const a = server(arena.share());
    const small = arena.allocHandle(64);
    const one = arena.allocHandle(SharedArena.maxBlock + 1);
    expect(one % SPAN).toBe(0);
    expect(arena.sizeOfHandle(one)).toBe(SPAN);
    const h = ask(a, 1, 300_000); // allocated and written with the pattern in the worker
    expect(h % SPAN).toBe(0);
    expect(arena.sizeOfHandle(h)).toBe(5 * SPAN);
    expect(check(arena.heap, h, 5 * SPAN)).toBe(true);
    noOverlap(arena, [small, one, h]);
    expect(arena.stats()).toMatchObject({ handles: 3, allocated: 64 + 6 * SPAN });
    for (const x of [h + 16, h + SPAN, one + SharedArena.maxBlock]) expect(code(() => arena.freeHandle(x))).toBe('ERR_INVALID_ARG_VALUE');
    expect(ask(a, 2, h)).toBe(1);
    expect(code(() => arena.freeHandle(h))).toBe('ERR_INVALID_ARG_VALUE');
    expect(code(() => arena.bytes(h))).toBe('ERR_INVALID_ARG_VALUE');
    expect(ask(a, 2, h)).toBe(-2);
    expect(arena.stats()).toMatchObject({ handles: 2, allocated: 64 + SPAN });
    // First fit: the freed run, its pages given back (private anonymous
    // memory reads as zero after MADV_DONTNEED); the rest of it is a run.
    const again = arena.allocHandle(3 * SPAN);
    expect(again).toBe(h);
    expect(arena.bytes(again).every((b) => b === 0)).toBe(true);
    expect(arena.allocHandle(2 * SPAN, SPAN)).toBe(h + 3 * SPAN);
    // realloc: the same handle within its spans; past them a new run with the bytes; a small block grows into a run.
    arena.heap[again + 3 * SPAN - 1] = 7;
    expect(arena.reallocHandle(again, 3 * SPAN - 1)).toBe(again);
    const grown = arena.reallocHandle(again, 4 * SPAN);
    expect(arena.sizeOfHandle(grown)).toBe(4 * SPAN);
    expect(arena.heap[grown + 3 * SPAN - 1]).toBe(7);
    arena.heap.fill(9, small, small + 64);
    const fromSmall = arena.reallocHandle(small, 100_000);
    expect(arena.sizeOfHandle(fromSmall)).toBe(2 * SPAN);
    expect(arena.bytes(fromSmall, 64).every((b) => b === 9)).toBe(true);
    expect(code(() => arena.freeHandle(small))).toBe('ERR_INVALID_ARG_VALUE');
    // No room: ENOMEM from allocHandle, -1 from tryAllocHandle; a bad align is still refused.
    expect(code(() => arena.allocHandle(arena.reserved))).toBe('ENOMEM');
    expect(arena.tryAllocHandle(arena.reserved)).toBe(-1);
    expect(code(() => arena.allocHandle(100_000, 2 * SPAN))).toBe('ERR_OUT_OF_RANGE');
  });

  it('of two workers freeing one run at once, exactly one succeeds', () => {
    using arena = new SharedArena({ reserve: 16 << 20 });
    const servers = [server(arena.share()), server(arena.share())];
    for (let round = 0; round < 20; round++) {
      const x = arena.allocHandle(2 * SPAN);
      for (const s of servers) {
        s.f[1] = x;
        Atomics.store(s.c, 0, 2);
        Atomics.notify(s.c, 0);
      }
      for (const s of servers) while (Atomics.load(s.c, 0) !== 0) Atomics.wait(s.c, 0, 2, 1000);
      expect(servers.map((s) => s.f[3]).sort()).toEqual([-2, 1]);
      expect(arena.stats().handles).toBe(0);
    }
  });
});
