// Where the time of the arena-mixed benchmark goes, phase by phase:
// node docs/arena-mixed-profile.js [keep] (run from the repository root after
// building dist/). 30,000 blocks of 16 B-1 MiB (log-uniform, the benchmark's
// seed), each page touched; then every other block freed and purge(); then
// reset({ keep: true }), four rounds. Prints µs per block for alloc, touching
// the pages (page faults), the frees and purge(). With `keep`, the arena keeps
// every freed page and does not purge (glibc's policy, the benchmark's
// "keeping all" row).
'use strict';
const pw = require('../dist/lib/index.js');
const keep = process.argv[2] === 'keep';
const page = pw.pageSize();
let x = 0x5eed;
const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
const n = 30000;
const sizes = [];
for (let i = 0; i < n; i++) sizes.push(Math.floor(16 * 65536 ** rnd()));
const a = new pw.Arena({ reserve: 64 * 2 ** 30, ...(keep ? { retain: Number.MAX_SAFE_INTEGER, decay: false } : {}) });
const live = new Array(n);
const now = process.hrtime.bigint;
for (let round = 0; round < 4; round++) {
  let tAlloc = 0n;
  let tTouch = 0n;
  for (let i = 0; i < n; i++) {
    const s = now();
    const v = a.alloc(sizes[i]);
    const m = now();
    for (let j = 0; j < v.length; j += page) v[j] = 1;
    tTouch += now() - m;
    tAlloc += m - s;
    live[i] = v;
  }
  const t1 = now();
  for (let i = 0; i < n; i += 2) a.free(live[i]);
  const t2 = now();
  const purged = keep ? 0 : a.purge();
  const t3 = now();
  a.reset({ keep: true });
  const us = (d) => (Number(d) / 1e3 / n).toFixed(1);
  console.log(`round ${round}: alloc ${us(tAlloc)}, touch ${us(tTouch)}, free ${us(t2 - t1)}, purge ${us(t3 - t2)} µs per block; purge() advised ${(purged / 2 ** 20).toFixed(0)} MiB`);
}
a.close();
