// A leaking program for `pagewise explain -- node examples/leak.js`: every
// 100 ms it keeps a 1 MiB ArrayBuffer (a malloc mmapped chunk) and 2,000 JS
// objects (V8's heap) it never lets go, LEAK_TICKS times (default 60, about
// 6 seconds). pagewise explain names both: ArrayBuffer backing stores and
// malloc mmapped chunks grow by about 600 MiB/min, the V8 heap by several
// MiB/min, while [heap], the malloc arenas and the thread stacks stay flat.
'use strict';
const ticks = Number(process.env.LEAK_TICKS) > 0 ? Number(process.env.LEAK_TICKS) : 60;
const buffers = [];
const objects = [];
let n = 0;
const timer = setInterval(() => {
  buffers.push(new Uint8Array(new ArrayBuffer(1024 * 1024)).fill(n & 0xff));
  for (let i = 0; i < 2000; i++) objects.push({ tick: n, i, label: `object ${n}.${i}` });
  if (++n === ticks) {
    clearInterval(timer);
    console.log(`kept ${buffers.length} ArrayBuffers of 1 MiB and ${objects.length} objects`);
  }
}, 100);

// Output:
// kept 60 ArrayBuffers of 1 MiB and 120000 objects
