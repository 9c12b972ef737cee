// Share memory with child processes: a memfd sealed against shrinking, its
// descriptor passed in spawn()'s stdio (fd 3 in the child). Each process
// writes its own range and sees the others'; a child that tries to truncate
// the memory gets EPERM, so no process can be killed by SIGBUS.
// Run: npm run build:ts && node dist/examples/share-child.js
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { memfd, SharedMemory } from 'pagewise';

const SLOT = 1 << 16; // bytes per process

/** Sleeps without the event loop (polling shared memory). */
const nap = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

async function parent(): Promise<void> {
  const shm = memfd('share-child-example', 3 * SLOT);
  console.log(`memfd of ${shm.size} bytes, seals: ${shm.seals!.join(', ')}`);
  const m = shm.map();
  const v = m.view();
  v.fill(1, 0, SLOT);
  const children = [1, 2].map(
    (me) =>
      new Promise<string>((resolve) => {
        const c = spawn(process.execPath, [__filename, 'child', String(me)], { stdio: ['ignore', 'pipe', 'inherit', shm.fd] });
        let out = '';
        c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        c.on('close', (code, signal) => resolve(`${out.trim()} (exit ${code ?? signal})`));
      }),
  );
  for (const line of await Promise.all(children)) console.log(line);
  const all = (from: number, byte: number) => v.subarray(from, from + SLOT).every((b) => b === byte);
  console.log(`parent sees child 1's bytes: ${all(SLOT, 2)}, child 2's: ${all(2 * SLOT, 3)}`);
  m.unmap();
  shm.close();
}

function child(me: number): void {
  const shm = SharedMemory.fromFd(3); // refuses a descriptor not sealed against shrinking
  const v = shm.map().view();
  v.fill(me + 1, me * SLOT, (me + 1) * SLOT);
  const other = me === 1 ? 2 : 1;
  while (v[(other + 1) * SLOT - 1] !== other + 1) nap(5); // wait for the other child's write
  let truncate: string;
  try {
    fs.ftruncateSync(shm.fd, 0);
    truncate = 'allowed';
  } catch (err) {
    truncate = (err as NodeJS.ErrnoException).code!;
  }
  const saw = (from: number, byte: number) => v.subarray(from, from + SLOT).every((b) => b === byte);
  console.log(`child ${me}: sees the parent's bytes ${saw(0, 1)}, the other child's ${saw(other * SLOT, other + 1)}; ftruncate(fd, 0): ${truncate}`);
}

if (process.argv[2] === 'child') child(Number(process.argv[3]));
else void parent();

// Output:
// memfd of 196608 bytes, seals: seal, shrink
// child 1: sees the parent's bytes true, the other child's true; ftruncate(fd, 0): EPERM (exit 0)
// child 2: sees the parent's bytes true, the other child's true; ftruncate(fd, 0): EPERM (exit 0)
// parent sees child 1's bytes: true, child 2's: true
