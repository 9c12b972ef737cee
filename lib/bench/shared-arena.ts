/**
 * A larson-like producer/consumer benchmark across worker threads (issue
 * 24): each of N workers allocates blocks of 16-256 bytes, writes them and
 * hands them to the next worker (a ring, the last to the first; with one
 * worker, to itself), which checks and frees them. Every block is allocated
 * in one thread and freed in another (N > 1).
 *
 * Contenders, interleaved round by round in one run:
 * - `shared-arena`: a {@link SharedArena}; a handle goes through a ring of
 *   numbers in a SharedArrayBuffer, the consumer frees it with
 *   `freeHandle` (a cross-thread free);
 * - `postMessage`: `Buffer.allocUnsafe` per block, a batch of blocks posted
 *   to the next worker (`postMessage`, read with `receiveMessageOnPort`),
 *   dropped there for the GC, what a user would write without shared memory.
 *
 * Throughput is blocks per second over all workers (each block is one
 * allocation, one hand-over and one free). The question: does it grow from
 * 1 to 2 workers (on a machine with 2 cores or more)?
 *
 * Run: `npm run bench:shared -- [--rounds N] [--blocks N] [--json]`.
 */
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SharedArena } from '../arena';

/** Options of {@link benchSharedLarson}. */
export interface SharedLarsonOptions {
  /** Rounds (each runs every contender once, in a rotating order); default 5. */
  rounds?: number;
  /** Blocks each worker produces (and consumes) per run; default 400,000. */
  blocks?: number;
  /** Worker counts; default [1, 2]. */
  workers?: readonly number[];
  /**
   * `'ring'` (default): every block is handed to the next worker, which
   * frees it. `'larson'`: as larson does, each worker replaces random blocks
   * of its own 1,024 (a free and an allocation per block) and hands 64 of
   * them to the next worker every 256 blocks (a quarter of its blocks are
   * freed by another worker).
   */
  workload?: 'ring' | 'larson';
  /** Contenders; default both. */
  contenders?: readonly SharedLarsonRow['contender'][];
}

/** One contender at one worker count: blocks per second of every round. */
export interface SharedLarsonRow {
  contender: 'shared-arena' | 'postMessage';
  workers: number;
  /** Blocks per second (all workers), one per round. */
  perRound: number[];
  median: number;
}

export interface SharedLarsonResult {
  rows: SharedLarsonRow[];
  /** Per round, throughput at the most workers over that at 1, per contender. */
  scaling: { contender: string; ratios: number[]; median: number }[];
  /** Per round, shared-arena over postMessage at each worker count. */
  versusBaseline: { workers: number; ratios: number[]; median: number }[];
  machine: { cpus: number; loadavg: number[]; node: string; kernel: string };
}

const CAP = 1 << 12; // ring slots (a power of two)
const BATCH = 64;
const HEAD = 16; // the consumer's counter, on its own cache line
const SLOTS = 32;

function packageEntry(): string {
  const built = path.join(__dirname, '..', 'index.js');
  return fs.existsSync(built) ? built : path.join(__dirname, '..', '..', 'dist', 'lib', 'index.js');
}

// Worker side. Rings: ring i carries blocks from worker i to worker i + 1
// (mod N): word 0 counts blocks written, HEAD blocks taken.
const WORKER = (entry: string): string => `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const pw = require(${JSON.stringify(entry)});
const { kind, me, n, blocks, ctl, workload } = workerData;
const c = new Int32Array(ctl);
const out = new Int32Array(workerData.rings[me]);
const inp = new Int32Array(workerData.rings[(me + n - 1) % n]);
const CAP = ${CAP}, BATCH = ${BATCH}, HEAD = ${HEAD}, SLOTS = ${SLOTS};
let seed = 12345 + me * 7919;
const size = () => { seed = (seed * 1103515245 + 12345) >>> 0; return 16 + (seed >>> 8) % 241; };
let bad = 0;
if (workload === 'larson') {
  // Each worker: 1,024 blocks of its own, a random one replaced per step;
  // every 256 steps, 64 of them go to the next worker, which frees them.
  const L = 1024, EVERY = 256, HAND = 64;
  const arena = kind === 'shared-arena' ? pw.SharedArena.attach(workerData.token) : null;
  const data = arena ? arena.data : null;
  const local = new Array(L);
  const alloc = (s) => {
    if (arena) { const h = arena.allocHandle(s); data.setUint32(h, h, true); data.setUint32(h + 12, s, true); return h; }
    const b = Buffer.allocUnsafe(s); b[0] = 7; b[12] = s & 255; return b;
  };
  const release = (x) => {
    if (arena) { if (data.getUint32(x + 12, true) > 256) bad++; arena.freeHandle(x); }
    else if (x[12] !== (x.length & 255)) bad++;
  };
  const { port, inPort } = workerData;
  let consumed = 0, tail = 0;
  const expect = Math.floor(blocks / EVERY) * HAND;
  const consume = () => {
    if (arena) {
      let head = inp[HEAD];
      const avail = Atomics.load(inp, 0);
      for (; head < avail; head++) { release(inp[SLOTS + (head & (CAP - 1))]); consumed++; }
      Atomics.store(inp, HEAD, head);
    } else {
      for (let m; (m = receiveMessageOnPort(inPort)) !== undefined; ) {
        const batch = m.message;
        for (let j = 0; j < batch.length; j++) release(batch[j]);
        consumed += batch.length;
        Atomics.add(inp, HEAD, batch.length);
      }
    }
  };
  Atomics.add(c, 1, 1); Atomics.notify(c, 1);
  Atomics.wait(c, 0, 0);
  for (let i = 0; i < L; i++) local[i] = alloc(size());
  for (let step = 1; step <= blocks; step++) {
    const k = (seed = (seed * 1103515245 + 12345) >>> 0) % L;
    release(local[k]);
    local[k] = alloc(size());
    if (step % EVERY === 0) {
      while (tail + HAND - Atomics.load(out, HEAD) > CAP) consume();
      const from = (step / EVERY * HAND) % L;
      if (arena) {
        for (let j = 0; j < HAND; j++) { out[SLOTS + ((tail + j) & (CAP - 1))] = local[from + j]; local[from + j] = alloc(size()); }
        tail += HAND;
        Atomics.store(out, 0, tail);
      } else {
        const batch = local.slice(from, from + HAND);
        for (let j = 0; j < HAND; j++) local[from + j] = alloc(size());
        tail += HAND;
        port.postMessage(batch);
      }
      consume();
    }
  }
  while (consumed < expect) { consume(); if (consumed < expect) Atomics.wait(c, 2, 0, 1); }
  for (let i = 0; i < L; i++) release(local[i]);
  if (arena) arena.close();
} else if (kind === 'shared-arena') {
  const arena = pw.SharedArena.attach(workerData.token);
  const data = arena.data;
  Atomics.add(c, 1, 1); Atomics.notify(c, 1);
  Atomics.wait(c, 0, 0);
  let produced = 0, consumed = 0, tail = 0;
  while (consumed < blocks || produced < blocks) {
    let busy = false;
    if (produced < blocks) {
      const room = CAP - (tail - Atomics.load(out, HEAD));
      const k = Math.min(BATCH, room, blocks - produced);
      for (let j = 0; j < k; j++) {
        const s = size();
        const h = arena.allocHandle(s);
        data.setUint32(h, h, true);
        data.setUint32(h + 12, s, true);
        out[SLOTS + ((tail + j) & (CAP - 1))] = h;
      }
      if (k > 0) { tail += k; produced += k; Atomics.store(out, 0, tail); busy = true; }
    }
    let head = inp[HEAD];
    const avail = Atomics.load(inp, 0);
    if (head < avail) {
      for (; head < avail; head++) {
        const h = inp[SLOTS + (head & (CAP - 1))];
        if (data.getUint32(h, true) !== h) bad++;
        arena.freeHandle(h);
      }
      consumed += avail - inp[HEAD];
      Atomics.store(inp, HEAD, head);
      busy = true;
    }
    if (!busy) Atomics.wait(inp, 0, avail, 1);
  }
  arena.close();
} else {
  const { port, inPort } = workerData;
  Atomics.add(c, 1, 1); Atomics.notify(c, 1);
  Atomics.wait(c, 0, 0);
  let produced = 0, consumed = 0;
  while (consumed < blocks || produced < blocks) {
    let busy = false;
    if (produced < blocks) {
      const room = CAP - (produced - Atomics.load(out, HEAD));
      const k = Math.min(BATCH, room, blocks - produced);
      if (k > 0) {
        const batch = new Array(k);
        for (let j = 0; j < k; j++) {
          const s = size();
          const b = Buffer.allocUnsafe(s);
          b.writeUInt32LE(produced + j, 0);
          b[12] = s & 255;
          batch[j] = b;
        }
        port.postMessage(batch);
        produced += k;
        busy = true;
      }
    }
    for (let m; (m = receiveMessageOnPort(inPort)) !== undefined; ) {
      const batch = m.message;
      // A Buffer arrives as a Uint8Array (structured clone).
      for (let j = 0; j < batch.length; j++) if (batch[j][12] !== (batch[j].length & 255)) bad++;
      consumed += batch.length;
      Atomics.add(inp, HEAD, batch.length);
      busy = true;
    }
    if (!busy) Atomics.wait(c, 2, 0, 1);
  }
}
parentPort.postMessage({ bad });
`;

async function runOnce(kind: SharedLarsonRow['contender'], n: number, blocks: number, entry: string, workload: 'ring' | 'larson'): Promise<number> {
  const ctl = new SharedArrayBuffer(16);
  const c = new Int32Array(ctl);
  const rings = Array.from({ length: n }, () => new SharedArrayBuffer(4 * (SLOTS + CAP)));
  const arena = kind === 'shared-arena' ? new SharedArena({ reserve: 512 << 20 }) : null;
  // postMessage: channel i carries worker i's batches to worker i + 1.
  const channels = kind === 'postMessage' ? Array.from({ length: n }, () => new MessageChannel()) : [];
  const workers: Worker[] = [];
  const done: Promise<{ bad: number }>[] = [];
  try {
    for (let me = 0; me < n; me++) {
      const data: Record<string, unknown> = { kind, me, n, blocks, ctl, rings, workload };
      const transfer: MessagePort[] = [];
      if (arena) data.token = arena.share();
      else {
        data.port = channels[me]!.port1;
        data.inPort = channels[(me + n - 1) % n]!.port2;
        transfer.push(channels[me]!.port1, channels[(me + n - 1) % n]!.port2);
      }
      const w = new Worker(WORKER(entry), { eval: true, workerData: data, transferList: transfer });
      workers.push(w);
      done.push(
        new Promise((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
      );
    }
    const failed = Promise.all(done).then(() => new Error('a worker ended before it started'));
    while (Atomics.load(c, 1) < n) {
      const e = await Promise.race([failed, new Promise<null>((r) => setTimeout(() => r(null), 2))]);
      if (e) throw e;
    }
    const t0 = process.hrtime.bigint();
    Atomics.store(c, 0, 1);
    Atomics.notify(c, 0);
    const res = await Promise.all(done);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const r of res) if (r.bad !== 0) throw new Error(`${kind}: ${r.bad} blocks read back wrong`);
    if (arena && arena.stats().handles !== 0) throw new Error(`shared-arena: ${arena.stats().handles} blocks left live`);
    return (n * blocks) / seconds;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    arena?.close();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Runs the benchmark (see the file's header). */
export async function benchSharedLarson(options: SharedLarsonOptions = {}): Promise<SharedLarsonResult> {
  const rounds = options.rounds ?? 5;
  const blocks = options.blocks ?? 400_000;
  const counts = options.workers ?? [1, 2];
  const entry = packageEntry();
  const contenders = options.contenders ?? ['shared-arena', 'postMessage'];
  const cells = contenders.flatMap((k) => counts.map((n) => ({ k, n })));
  const per = new Map<string, number[]>(cells.map(({ k, n }) => [`${k}/${n}`, []]));
  // Warm-up run of each cell, not counted.
  const workload = options.workload ?? 'ring';
  for (const { k, n } of cells) await runOnce(k, n, Math.min(blocks, 50_000), entry, workload);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cells.length; i++) {
      const { k, n } = cells[(i + r) % cells.length]!;
      per.get(`${k}/${n}`)!.push(await runOnce(k, n, blocks, entry, workload));
    }
  }
  const rows = cells.map(({ k, n }) => ({ contender: k, workers: n, perRound: per.get(`${k}/${n}`)!, median: median(per.get(`${k}/${n}`)!) }));
  const lo = Math.min(...counts);
  const hi = Math.max(...counts);
  const scaling = contenders.map((k) => {
    const a = per.get(`${k}/${lo}`)!;
    const b = per.get(`${k}/${hi}`)!;
    const ratios = a.map((x, i) => b[i]! / x);
    return { contender: k, ratios, median: median(ratios) };
  });
  const versusBaseline = contenders.length < 2 ? [] : counts.map((n) => {
    const a = per.get(`shared-arena/${n}`) ?? [];
    const b = per.get(`postMessage/${n}`) ?? [];
    const ratios = a.map((x, i) => x / b[i]!);
    return { workers: n, ratios, median: median(ratios) };
  });
  return { rows, scaling, versusBaseline, machine: { cpus: os.cpus().length, loadavg: os.loadavg(), node: process.version, kernel: os.release() } };
}

function fmtRate(x: number): string {
  return `${(x / 1e6).toFixed(2)} M blocks/s`;
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string): number | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const wi = argv.indexOf('--workload');
  const workload = wi >= 0 ? (argv[wi + 1] as 'ring' | 'larson') : 'ring';
  const res = await benchSharedLarson({ rounds: arg('--rounds'), blocks: arg('--blocks'), workload });
  if (argv.includes('--json')) {
    console.log(JSON.stringify(res, null, 2));
    return;
  }
  const m = res.machine;
  console.log(`${workload === 'larson' ? 'larson: own blocks replaced at random, 64 of every 256 handed to the next worker' : 'ring: every block handed to the next worker'}; ${m.cpus} CPUs, load ${m.loadavg.map((x) => x.toFixed(2)).join(' ')}, Node ${m.node}, Linux ${m.kernel}`);
  for (const r of res.rows) {
    const lo = Math.min(...r.perRound);
    const hi = Math.max(...r.perRound);
    console.log(`${r.contender.padEnd(13)} ${r.workers} worker${r.workers > 1 ? 's' : ' '}: median ${fmtRate(r.median)} (rounds ${fmtRate(lo)} .. ${fmtRate(hi)})`);
  }
  const range = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)}`;
  for (const s of res.scaling) console.log(`scaling ${s.contender}: ${s.median.toFixed(2)}x (per round ${range(s.ratios)})${Math.min(...s.ratios) > 1 ? ' grows in every round' : ''}`);
  for (const v of res.versusBaseline) console.log(`shared-arena / postMessage at ${v.workers} worker${v.workers > 1 ? 's' : ''}: ${v.median.toFixed(2)}x (per round ${range(v.ratios)})`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
