/**
 * Arena in other processes and threads: commit failure under RLIMIT_DATA
 * (a limit we must not impose on the test runner), unmapping by the garbage
 * collector, and one arena per worker thread, concurrently. The children
 * load the compiled package (dist/, built by `npm test`'s pretest).
 */
import { describe, expect, it } from 'vitest';
import { runChild, DIST } from './helpers/child';
import { ASAN, sanitizerSkips } from './helpers/sanitizer';

const MiB = 2 ** 20;

function json<T>(r: { status: number | null; stdout: string; stderr: string }): T {
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as T;
}

const VMDATA = `const vmData = () => Number(/VmData:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;`;

describe('Arena under RLIMIT_DATA', () => {
  it.skipIf(sanitizerSkips('arena under RLIMIT_DATA in a child', ASAN.rlimitDataMalloc))('tryAlloc returns null at the limit, alloc throws ENOMEM from mprotect, earlier blocks verify', () => {
    // How much data a child has before it allocates anything.
    const probe = json<{ vmData: number }>(runChild(`${VMDATA} console.log(JSON.stringify({ vmData: vmData() }));`));
    const limit = probe.vmData + 160 * MiB;
    const chunk = MiB;
    const r = runChild(
      `${VMDATA}
      const limit = ${limit}, chunk = ${chunk};
      // Room for V8: committed now, given back the moment the arena hits the
      // limit, so V8's own heap growth never meets the limit first (V8 aborts
      // on a failed commit). Few, large blocks keep the JS heap still meanwhile.
      const room = new pw.Arena({ reserve: 2 ** 30, chunkSize: ${32 * MiB}, hugePages: false });
      room.alloc(${32 * MiB});
      const a = new pw.Arena({ reserve: 2 ** 30, chunkSize: chunk, hugePages: false });
      const blocks = new Array(1000), sums = new Array(1000);
      let n = 0;
      const sum = (v) => { let h = 0; for (let i = 0; i < v.length; i += 61) h = (Math.imul(h, 31) + v[i]) | 0; return h; };
      let failedAt = -1, dataAtFail = 0, failedSize = 0;
      for (let i = 0; i < 1000; i++) {
        const size = [3 * 2 ** 20 + 5, 700000, 3000, 200000][i % 4];
        const v = a.tryAlloc(size);
        if (v === null) { failedAt = i; failedSize = size; dataAtFail = vmData(); break; }
        for (let j = 0; j < v.length; j += 509) v[j] = (i * 7 + j) & 255;
        blocks[n] = v; sums[n] = sum(v); n++;
      }
      let err = null;
      try { a.alloc(failedSize); } catch (e) { err = { code: e.code, syscall: e.syscall, errno: e.errno }; }
      room.reset({ decommit: true });
      let intact = true;
      for (let i = 0; i < n; i++) if (blocks[i].length === 0 || sum(blocks[i]) !== sums[i]) intact = false;
      const s = a.stats();
      // Freeing gives room again without any new commit.
      a.free(blocks[n - 1]);
      const again = a.tryAlloc(100) !== null;
      console.log(JSON.stringify({ failedAt, failedSize, dataAtFail, err, intact, committed: s.committed, blocks: n, again }));`,
      { ulimit: ['-d', String(Math.floor(limit / 1024))] },
    );
    const out = json<{ failedAt: number; failedSize: number; dataAtFail: number; err: { code: string; syscall: string; errno: number } | null; intact: boolean; committed: number; blocks: number; again: boolean }>(r);
    expect(out.failedAt).toBeGreaterThan(0);
    expect(out.err).toEqual({ code: 'ENOMEM', syscall: 'mprotect', errno: -12 });
    expect(out.intact).toBe(true);
    expect(out.again).toBe(true);
    // The kernel's rule (mm/mmap.c may_expand_vm): a commit fails when the
    // data size plus the commit would pass the limit. The failed request
    // needed at most ceil(size / chunk) more chunks.
    expect(out.dataAtFail + Math.ceil(out.failedSize / chunk) * chunk).toBeGreaterThan(limit);
    expect(out.committed).toBeGreaterThan(0);
    expect(out.committed).toBeLessThanOrEqual(limit - probe.vmData - 32 * MiB);
    expect(out.blocks).toBeGreaterThan(10);
  });
});

describe('Arena and the garbage collector', () => {
  it('a collected arena is unmapped; a view kept alive keeps its memory mapped until it goes too', () => {
    const r = runChild(
      `const fs = require('fs');
      const mapped = (addr) => fs.readFileSync('/proc/self/maps', 'utf8').trim().split('\\n').some((l) => { const [s, e] = l.split(' ')[0].split('-').map((h) => BigInt('0x' + h)); return s <= addr && addr < e; });
      const settle = async () => { for (let i = 0; i < 8; i++) { gc(); await new Promise((r) => setImmediate(r)); } };
      (async () => {
        let a1 = new pw.Arena({ reserve: 2 ** 30, hugePages: false });
        const addr1 = a1.address;
        a1.alloc(100).fill(1); a1.alloc(${3 * MiB}).fill(2); a1.alloc(20000).fill(3);
        a1 = null;
        await settle();
        let a2 = new pw.Arena({ reserve: 2 ** 30, hugePages: false });
        const addr2 = a2.address;
        let kept = a2.alloc(${MiB});
        kept.fill(9);
        a2 = null;
        await settle();
        const keptMapped = mapped(addr2);
        const keptOk = kept.length === ${MiB} && kept.every((b) => b === 9);
        kept = null;
        await settle();
        console.log(JSON.stringify({ first: mapped(addr1), keptMapped, keptOk, second: mapped(addr2) }));
      })();`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(json(r)).toEqual({ first: false, keptMapped: true, keptOk: true, second: false });
  });
});

describe('Arena in worker threads', () => {
  it('one arena per worker, concurrently; each cleans up when its worker ends', () => {
    const worker = `
      const { parentPort, workerData } = require('worker_threads');
      const pw = require(${JSON.stringify(DIST)});
      const a = new pw.Arena({ reserve: 2 ** 30, chunkSize: ${MiB}, hugePages: false });
      let x = workerData.seed;
      const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
      const live = [];
      let ops = 0;
      for (let i = 0; i < 20000; i++) {
        if (live.length && rnd() < 0.45) {
          const k = Math.floor(rnd() * live.length);
          const b = live[k]; live[k] = live[live.length - 1]; live.pop();
          const c = (b.id * 31 + workerData.seed) & 255;
          if (b.v[0] !== c || b.v[b.v.length - 1] !== c) throw new Error('cookie lost');
          a.free(b.v); ops++;
        } else {
          const size = 1 + Math.floor(rnd() ** 4 * 300000);
          const v = a.alloc(size); const id = i;
          v.fill((id * 31 + workerData.seed) & 255);
          live.push({ id, v }); ops++;
        }
      }
      for (const b of live) a.free(b.v);
      const s = a.stats();
      parentPort.postMessage({ address: String(a.address), allocated: s.allocated, ops, mappings: s.mappings });
    `;
    const r = runChild(
      `const { Worker } = require('worker_threads');
      const fs = require('fs');
      const mapped = (addr) => fs.readFileSync('/proc/self/maps', 'utf8').trim().split('\\n').some((l) => { const [s, e] = l.split(' ')[0].split('-').map((h) => BigInt('0x' + h)); return s <= addr && addr < e; });
      const code = ${JSON.stringify(worker)};
      const runs = [1, 2, 3, 4].map((seed) => new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { seed } });
        let msg;
        w.on('message', (m) => { msg = m; });
        w.on('error', reject);
        w.on('exit', (c) => (c === 0 ? resolve(msg) : reject(new Error('exit ' + c))));
      }));
      Promise.all(runs).then((res) => {
        const addrs = new Set(res.map((m) => m.address));
        console.log(JSON.stringify({
          workers: res.length, distinct: addrs.size,
          allocated: res.map((m) => m.allocated), mappings: res.map((m) => m.mappings),
          opsOk: res.every((m) => m.ops === 20000),
          stillMapped: res.filter((m) => mapped(BigInt(m.address))).length,
        }));
      }, (e) => { console.error(e); process.exit(1); });`,
    );
    expect(json(r)).toEqual({ workers: 4, distinct: 4, allocated: [0, 0, 0, 0], mappings: [2, 2, 2, 2], opsOk: true, stillMapped: 0 });
  });
});
