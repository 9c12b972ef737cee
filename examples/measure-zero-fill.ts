// measure() on zero-fill-on-demand: what mapping, writing, reading and
// MADV_DONTNEED really cost, each number with its source.
// Run: npm run build:ts && node dist/examples/measure-zero-fill.js
import { mmap, pageSize, measureSync, zeroPageBehaviour, rss, readThp, type Measurement } from 'pagewise';

const page = pageSize();
const n = 1000;
const kib = (bytes: number): string => `${bytes / 1024} KiB`;
function show(what: string, r: Measurement<unknown>): void {
  const res = r.residency[0]!;
  console.log(`${what}:`);
  console.log(`  faults: ${r.threadFaults.minor} minor on this thread (getrusage), ${'minor' in r.perfFaults ? r.perfFaults.minor : 'n/a'} by perf`);
  console.log(`  residency (${res.source}): ${res.present} pages present, ${res.pages} counted in RSS, ${res.zeroPage ?? 'n/a'} on the zero page`);
  console.log(`  RSS: ${kib(r.rss.exactDelta)} exact (smaps_rollup), ${kib(r.rss.fastDelta)} fast (statm)`);
  console.log(`  time: ${(r.timeNs / 1000).toFixed(0)} us`);
}

console.log(`THP mode: ${readThp().mode}; page size ${page / 1024} KiB; process RSS ${(rss().bytes / 2 ** 20).toFixed(0)} MiB`);
const m = mmap(1 << 30, { noReserve: true }); // 1 GiB of address space, nothing resident
m.advise('nohugepage'); // one fault per base page, not per 2 MiB
const view = m.view(0, 2 * n * page);
measureSync(() => 0, { mappings: [m] }); // warm up the measuring code itself

show(`writing 1 byte to each of ${n} fresh pages`, measureSync(() => {
  for (let i = 0; i < n; i++) view[i * page] = 1;
}, { mappings: [m] }));

const z = zeroPageBehaviour();
console.log(`read faults map the shared zero page on this kernel: ${z.readFaultMapsZeroPage ? 1 : 0} (1 = yes) by ${z.method}`);
show(`reading 1 byte of each of ${n} other fresh pages`, measureSync(() => {
  let sum = 0;
  for (let i = n; i < 2 * n; i++) sum += view[i * page]!;
  return sum;
}, { mappings: [m] }));

show(`MADV_DONTNEED over all ${2 * n} pages`, measureSync(() => m.advise('dontneed', 0, 2 * n * page), { mappings: [m] }));
m.unmap();

// Output:
// THP mode: madvise; page size 4 KiB; process RSS 48 MiB
// writing 1 byte to each of 1000 fresh pages:
//   faults: 1000 minor on this thread (getrusage), 1000 by perf
//   residency (pagemap_scan): 1000 pages present, 1000 counted in RSS, 0 on the zero page
//   RSS: 4000 KiB exact (smaps_rollup), 4000 KiB fast (statm)
//   time: 2284 us
// read faults map the shared zero page on this kernel: 1 (1 = yes) by pagemap_scan
// reading 1 byte of each of 1000 other fresh pages:
//   faults: 1000 minor on this thread (getrusage), 1000 by perf
//   residency (pagemap_scan): 1000 pages present, 0 counted in RSS, 1000 on the zero page
//   RSS: 0 KiB exact (smaps_rollup), 0 KiB fast (statm)
//   time: 5124 us
// MADV_DONTNEED over all 2000 pages:
//   faults: 0 minor on this thread (getrusage), 1 by perf
//   residency (pagemap_scan): -2000 pages present, -1000 counted in RSS, -1000 on the zero page
//   RSS: -3996 KiB exact (smaps_rollup), -3996 KiB fast (statm)
//   time: 422 us
