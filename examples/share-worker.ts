// Share one mapping with worker threads, without a copy: share() here,
// attach() in each worker, the same memory at the same address. Each worker
// unmaps its own attachment; the memory stays for the others and goes when
// the last holder lets go.
// Run: npm run build:ts && node dist/examples/share-worker.js
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { mmap, attach, type ShareToken } from 'pagewise';

interface Job {
  token: ShareToken;
  address: bigint;
  i: number;
}

async function main(): Promise<void> {
  const m = mmap(1 << 20);
  const counters = new Int32Array(m.buffer);
  const token = m.share();
  const reports = await Promise.all(
    [0, 1, 2, 3].map(
      (i) =>
        new Promise<string>((resolve, reject) => {
          const w = new Worker(__filename, { workerData: { token, address: m.address, i } satisfies Job });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  for (const r of reports) console.log(r);
  console.log(`main thread reads the counters: ${Array.from(counters.subarray(0, 4)).join(', ')}`);
  m.unmap();
}

function worker(): void {
  const { token, address, i } = workerData as Job;
  const m = attach(token);
  const counters = new Int32Array(m.buffer);
  for (let k = 0; k < 100_000; k++) counters[i]! += 1;
  parentPort!.postMessage(`worker ${i}: same address ${m.address === address}, counted to ${counters[i]}`);
  m.unmap(); // this thread's attachment only
}

if (isMainThread) void main();
else worker();

// Output:
// worker 0: same address true, counted to 100000
// worker 1: same address true, counted to 100000
// worker 2: same address true, counted to 100000
// worker 3: same address true, counted to 100000
// main thread reads the counters: 100000, 100000, 100000, 100000
