/**
 * Handing memory to a worker thread: `mapping.share()` + `attach()` against
 * `postMessage` of a copy (the structured clone a user would otherwise pay),
 * at several sizes. Each round is a round trip: the main thread hands the
 * memory over, the worker reads its first and last byte (attaching, or
 * receiving the copy) and answers. Asynchronous, so it sits beside the
 * synchronous harness instead of in it.
 */
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mmap } from '../mapping';
import { checkInteger, checkOptions } from '../validate';
import { invalidType } from '../errors';

/** Options of {@link benchShareHandoff}. */
export interface BenchShareOptions {
  /** Sizes in bytes (default 1 MiB, 64 MiB, 256 MiB). */
  sizes?: readonly number[];
  /** Round trips per size and contender (default 7); the median is reported. */
  runs?: number;
}

/** One size's figures: median microseconds per hand-over round trip, and share() / copy. */
export interface BenchShareResult {
  bytes: number;
  shareUs: number;
  copyUs: number;
  ratio: number;
}

/** The compiled package (this file runs from dist/, or from source under a test runner). */
function packageEntry(): string {
  const built = path.join(__dirname, '..', 'index.js');
  return fs.existsSync(built) ? built : path.join(__dirname, '..', '..', 'dist', 'lib', 'index.js');
}

const WORKER = (entry: string): string => `
const { parentPort } = require('node:worker_threads');
const pw = require(${JSON.stringify(entry)});
parentPort.on('message', (msg) => {
  if (msg.token) {
    const m = pw.attach(msg.token);
    const v = m.view();
    const sum = v[0] + v[v.length - 1];
    m.unmap();
    parentPort.postMessage(sum);
  } else {
    const v = new Uint8Array(msg.copy);
    parentPort.postMessage(v[0] + v[v.length - 1]);
  }
});`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Median round-trip time of handing `bytes` to a worker by `share()` and by
 * `postMessage` of a copy, per size. `share()` should not grow with size;
 * the copy does.
 *
 * @example
 * const rows = await benchShareHandoff({ sizes: [1 << 20, 256 << 20] });
 * console.log(rows.map((r) => `${r.bytes}: ${r.ratio.toFixed(4)}x`));
 */
export async function benchShareHandoff(options?: BenchShareOptions): Promise<BenchShareResult[]> {
  const o = checkOptions<BenchShareOptions>('options', options, ['sizes', 'runs']);
  const sizes = o.sizes === undefined ? [1 << 20, 64 << 20, 256 << 20] : o.sizes;
  if (!Array.isArray(sizes)) throw invalidType('options.sizes', 'an array of byte counts', sizes);
  for (const s of sizes) checkInteger('options.sizes[]', s, 1);
  const runs = o.runs === undefined ? 7 : checkInteger('options.runs', o.runs, 1, 1000);
  const w = new Worker(WORKER(packageEntry()), { eval: true });
  let failed: Error | null = null;
  const waiting = new Set<(e: Error) => void>();
  w.on('error', (e) => {
    failed = e;
    for (const reject of waiting) reject(e);
  });
  const ask = (msg: unknown): Promise<number> =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed);
      waiting.add(reject);
      w.once('message', (x: number) => {
        waiting.delete(reject);
        resolve(x);
      });
      w.postMessage(msg);
    });
  const out: BenchShareResult[] = [];
  try {
    for (const bytes of sizes) {
      const m = mmap(bytes);
      const v = m.view();
      v[0] = 1;
      v[bytes - 1] = 2;
      const share: number[] = [];
      const copy: number[] = [];
      for (let r = 0; r <= runs; r++) {
        // share(): a token of a few bytes; the worker maps nothing new.
        let t0 = process.hrtime.bigint();
        await ask({ token: m.share() });
        const s = Number(process.hrtime.bigint() - t0) / 1000;
        // A copy: what postMessage of the bytes costs (structured clone).
        t0 = process.hrtime.bigint();
        await ask({ copy: v });
        const c = Number(process.hrtime.bigint() - t0) / 1000;
        if (r > 0) {
          share.push(s);
          copy.push(c);
        }
      }
      m.unmap();
      const shareUs = median(share);
      const copyUs = median(copy);
      out.push({ bytes, shareUs, copyUs, ratio: shareUs / copyUs });
    }
  } finally {
    await w.terminate();
  }
  return out;
}
