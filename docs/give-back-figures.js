// Generates the before/after figures of docs/give-back.md on this machine.
// Run: npm run build:ts && nice -n 5 node --expose-gc docs/give-back-figures.js
'use strict';
const os = require('node:os');
const pw = require('../dist/lib/index.js');
const { runExperiments } = require('../dist/lib/experiments/index.js');

const MiB = 2 ** 20;
const page = pw.pageSize();
const mib = (b) => `${(b / MiB).toFixed(1)} MiB`;
const rss = () => pw.readStatm().resident;
const rows = [];
const row = (what, before, after, source) => rows.push(`| ${what} | ${before} | ${after} | ${source} |`);

// 1. discard() of a 64 MiB ArrayBuffer, fully written.
{
  const ab = new ArrayBuffer(64 * MiB + 123);
  new Uint8Array(ab).fill(1);
  const r0 = rss();
  const r = pw.discard(ab);
  row('`discard()` of a written 64 MiB `ArrayBuffer`', `RSS ${mib(r0)}; ${r.residentBefore / page} pages resident in the range`, `RSS ${mib(rss())} (−${mib(r0 - rss())}); ${r.bytes / page} pages advised`, 'statm; mincore of the range');
}
// 2. WebAssembly.Memory of 64 MiB, upper half discarded.
{
  const mem = new WebAssembly.Memory({ initial: 1024 });
  new Uint8Array(mem.buffer).fill(1);
  const r0 = rss();
  const r = pw.discard(mem.buffer, 32 * MiB, 32 * MiB);
  row('`discard()` of the upper half of a written 64 MiB `WebAssembly.Memory`', `RSS ${mib(r0)}`, `RSS ${mib(rss())} (−${mib(r0 - rss())}); ${r.bytes / page} pages advised, memory still growable: ${mem.grow(1) === 1024}`, 'statm');
}
// 3. trimMalloc() after freeing 9 in 10 of 3000 malloc-backed 48 KiB Buffers.
{
  let b = [];
  for (let i = 0; i < 3000; i++) b.push(Buffer.allocUnsafeSlow(48 * 1024).fill(1));
  b = b.filter((_, i) => i % 10 === 0);
  global.gc();
  global.gc();
  const t = pw.trimMalloc();
  row('`trimMalloc()` after freeing 2700 of 3000 48 KiB Buffers (malloc)', `RSS ${mib(t.rssBefore)}; malloc free ${mib(t.freeBefore)}`, `RSS ${mib(t.rssAfter)} (−${mib(t.released)}); malloc free ${mib(t.freeAfter)} (free bytes stay free, their pages go)`, 'statm; mallinfo2');
  void b.length;
}
// 4. resetPeakRss()/peakRss() around a 100 MiB phase given back before the read.
{
  pw.resetPeakRss();
  const p0 = pw.peakRss();
  const m = pw.mmap(100 * MiB);
  m.advise('nohugepage');
  m.view().fill(1);
  m.advise('dontneed');
  const p1 = pw.peakRss();
  m.unmap();
  row('`resetPeakRss()`, a phase touching 100 MiB then giving it back, `peakRss()`', `VmHWM ${mib(p0.vmHwm)} (= VmRSS at the reset)`, `VmHWM ${mib(p1.vmHwm)}, VmRSS ${mib(p1.vmRss)}; cgroup: ${p1.cgroup ? mib(p1.cgroup.peak) : 'none (' + p1.cgroupNote.split(':')[0] + ')'}`, '/proc/self/status');
}
// 5. cold pages of a 64 MiB mapping, 10% rewritten, paged out.
if (pw.kernelHas('writeTracking')) {
  const m = pw.mmap(64 * MiB);
  m.advise('nohugepage');
  const v = m.view();
  v.fill(1);
  const t = pw.trackWrites(m);
  for (let i = 0; i < m.length; i += 10 * page) v[i] = 2;
  const c = pw.coldPages(m, { since: t });
  const r = pw.reclaim(c, 'pageout');
  row(`\`coldPages()\` + \`reclaim(…, 'pageout')\`, 64 MiB mapping, 1 page in 10 rewritten`, `${c.coldPages} cold pages in ${c.ranges.length} runs; ${r.residentBefore} resident`, `${r.residentAfter} resident after ${r.calls} process_madvise call(s) (SwapTotal ${mib(r.swapTotal ?? 0)})`, 'PAGEMAP_SCAN; mincore');
  t.close();
  m.unmap();
}
const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${mib(os.totalmem())} RAM; kernel ${os.release()}; Node ${process.version}; page ${page} B; THP ${pw.readThp().mode}; load ${load}; swap ${mib(pw.readMeminfo().SwapTotal ?? 0)}`);
console.log('');
console.log('| action | before | after | source |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('');
for (const r of runExperiments(['wasm-discard', 'resizable-shrink', 'trim-malloc', 'thp-modes'])) {
  console.log(`- **${r.number} ${r.title}**: ${r.verdict}${r.condition ? `: ${r.condition}` : ''}`);
  for (const name of r.key) {
    const x = r.measurements.find((mm) => mm.name === name);
    if (x) console.log(`  - ${x.name}: ${x.value}${x.unit ? ` ${x.unit}` : ''} (${x.source})`);
  }
}
