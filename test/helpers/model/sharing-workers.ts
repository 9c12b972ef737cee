/**
 * The workers of the sharing property test (test/reliability-property-sharing.test.ts):
 * each serves attach/write/read/unmap requests synchronously over a SharedArrayBuffer.
 */
import { Worker } from 'node:worker_threads';
import { DIST } from '../child';
import type { Mem } from './sharing-ops';

// ---------------------------------------------------------------- workers
// Each worker serves requests synchronously over a SharedArrayBuffer: the
// main thread writes a request, notifies, and waits for the answer, so the
// property stays one synchronous sequence between terminations.
const WORKER = `
const { workerData } = require('node:worker_threads');
const pw = require(${JSON.stringify(DIST)});
const s = new Int32Array(workerData);
let held = null, view = null;
for (;;) {
  Atomics.wait(s, 0, 0);
  const op = s[0];
  let res = 0;
  try {
    if (op === 1) {
      if (held) held.unmap();
      const id = (BigInt(s[3] >>> 0) << 32n) | BigInt(s[2] >>> 0);
      held = pw.attach({ pagewiseShare: 1, id, length: s[4], pageSize: s[5], kind: { file: (s[6] & 1) !== 0, shared: (s[6] & 2) !== 0, noReserve: (s[6] & 4) !== 0, hugePages: (s[6] & 8) !== 0 }, pid: process.pid });
      view = held.view();
      res = 1;
    } else if (op === 2) {
      if (view && view.length > s[2]) { view[s[2]] = s[3]; res = 1; }
    } else if (op === 3) {
      res = view && view.length > s[2] ? 1000 + view[s[2]] : 0;
    } else if (op === 4) {
      if (held) held.unmap();
      held = null; view = null; res = 1;
    }
  } catch (e) {
    res = e.code === 'ERR_INVALID_STATE' ? -1 : e.code === 'ERR_INVALID_ARG_VALUE' ? -2 : -3;
  }
  Atomics.store(s, 1, res);
  Atomics.store(s, 0, 0);
  Atomics.notify(s, 0);
}`;

export interface ModelWorker {
  w: Worker;
  s: Int32Array;
  /** The memory it holds (attached), or null. */
  mem: Mem | null;
}

export function newWorker(): ModelWorker {
  const s = new Int32Array(new SharedArrayBuffer(64));
  const w = new Worker(WORKER, { eval: true, workerData: s.buffer });
  w.unref();
  return { w, s, mem: null };
}

export function ask(x: ModelWorker, op: number, ...args: number[]): number {
  for (let i = 0; i < args.length; i++) x.s[2 + i] = args[i]!;
  Atomics.store(x.s, 0, op);
  Atomics.notify(x.s, 0);
  while (Atomics.load(x.s, 0) !== 0) Atomics.wait(x.s, 0, op, 1000);
  return x.s[1]!;
}
