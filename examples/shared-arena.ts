// One arena of handle blocks shared by worker threads: a producer worker
// allocates records and writes them, a consumer worker reads and frees them
// (a cross-thread free), the main thread watches. A handle is a number, the
// same block in every worker: only numbers cross between threads.
// Run: npm run build:ts && node dist/examples/shared-arena.js
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SharedArena, type SharedArenaToken } from 'pagewise';

interface Job {
  role: 'producer' | 'consumer';
  token: SharedArenaToken;
}

const RECORDS = 10_000;

function start(role: Job['role'], token: SharedArenaToken): Worker {
  return new Worker(__filename, { workerData: { role, token } satisfies Job });
}

async function main(): Promise<void> {
  using arena = new SharedArena({ reserve: 64 << 20 });
  const producer = start('producer', arena.share());
  const consumer = start('consumer', arena.share());
  // The producer's handles, relayed to the consumer as plain numbers.
  const handles = await new Promise<number[]>((resolve) => producer.once('message', resolve));
  const s = arena.stats();
  console.log(`producer allocated ${handles.length} records; live blocks: ${s.handles}, ${s.allocated} bytes`);
  const h = handles[42]!;
  console.log(`main thread reads record 42 at handle ${h}: id ${arena.data.getUint32(h, true)}, "${new TextDecoder().decode(arena.bytes(h).subarray(4, 12))}"`);
  consumer.postMessage(handles);
  const report = await new Promise<string>((resolve) => consumer.once('message', resolve));
  console.log(report);
  console.log(`live blocks after the consumer freed them: ${arena.stats().handles}`);
  try {
    arena.freeHandle(h); // freed by the consumer already
  } catch (e) {
    console.log(`freeing record 42 again here: ${(e as { code?: string }).code}`);
  }
  await Promise.all([producer.terminate(), consumer.terminate()]);
}

function worker(): void {
  const { role, token } = workerData as Job;
  const arena = SharedArena.attach(token);
  if (role === 'producer') {
    const out: number[] = [];
    for (let i = 0; i < RECORDS; i++) {
      const h = arena.allocHandle(32);
      arena.data.setUint32(h, i, true);
      arena.heap.set(new TextEncoder().encode(`record-${i % 10}`), h + 4);
      out.push(h);
    }
    parentPort!.postMessage(out);
    arena.close(); // this thread lets go; the blocks stay for the others
  } else {
    parentPort!.once('message', (handles: number[]) => {
      let ok = 0;
      for (let i = 0; i < handles.length; i++) {
        if (arena.data.getUint32(handles[i]!, true) === i) ok++;
        arena.freeHandle(handles[i]!);
      }
      parentPort!.postMessage(`consumer read ${ok} records intact and freed them all`);
      arena.close();
    });
  }
}

if (isMainThread) void main();
else worker();

// Output:
// producer allocated 10000 records; live blocks: 10000, 320000 bytes
// main thread reads record 42 at handle 1344: id 42, "record-2"
// consumer read 10000 records intact and freed them all
// live blocks after the consumer freed them: 0
// freeing record 42 again here: ERR_INVALID_ARG_VALUE
