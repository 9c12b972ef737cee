// Measures what one explain() snapshot costs in a process with many mappings
// and much resident memory: node docs/explain-cost.js [mappings] [MiB resident]
// (defaults 2000 and 1024). Run from the repository root after building dist/.
// Prints the median wall time and the CPU time (user + system) per snapshot
// over 30 snapshots, after 3 to warm up, with and without the smaps_rollup check.
'use strict';
const pw = require('../dist/lib/index.js');
const { performance } = require('node:perf_hooks');
const wantMappings = Number(process.argv[2] || 2000);
const residentMiB = Number(process.argv[3] || 1024);
const page = pw.pageSize();
const keep = [];
// Resident memory: one mapping, written (smaps walks its page tables).
const big = pw.mmap(residentMiB * 1024 * 1024);
big.view().fill(1);
keep.push(big);
// Mappings: regions of two pages whose second page is read-only, so the kernel cannot merge them.
while (pw.explain().totals.vmas < wantMappings) {
  for (let i = 0; i < 100; i++) {
    const m = pw.mmap(2 * page);
    m.view(0, page).fill(1);
    m.protect('r', page, page);
    keep.push(m);
  }
}
function measure(options) {
  for (let i = 0; i < 3; i++) pw.explain(options);
  const walls = [];
  const c0 = process.cpuUsage();
  let s;
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    s = pw.explain(options);
    walls.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(c0);
  walls.sort((a, b) => a - b);
  console.log(`${JSON.stringify(options)}: ${s.totals.vmas} mappings, RSS ${(s.totals.rss / 1048576).toFixed(0)} MiB: ` +
    `median ${walls[15].toFixed(1)} ms wall (min ${walls[0].toFixed(1)}), ${((cpu.user + cpu.system) / 1000 / 30).toFixed(1)} ms CPU per snapshot ` +
    `(user ${(cpu.user / 1000 / 30).toFixed(1)}, system ${(cpu.system / 1000 / 30).toFixed(1)})`);
}
measure({});
measure({ rollup: false });
