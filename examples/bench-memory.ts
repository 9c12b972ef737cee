// benchMemory: what your own function costs in time, page faults and
// resident memory, per page, as median / min / max over several runs.
// Run: npm run build:ts && node dist/examples/bench-memory.js
import { mmap, pageSize } from 'pagewise';
import { benchMemory } from 'pagewise/bench';

const page = pageSize();
const pages = 1024;
const m = mmap(pages * page, { noReserve: true });
m.advise('nohugepage'); // one fault per 4K page, whatever the THP mode
const view = m.view();

// The function under test: fill every page of the mapping. Before each run,
// MADV_DONTNEED gives the pages back, so every run starts from fresh memory.
const r = benchMemory(() => view.fill(7), {
  runs: 7,
  mappings: [m],
  setup: () => void m.advise('dontneed'),
});

const s = (x: { median: number; min: number; max: number }, f: (n: number) => string = String): string =>
  `${f(x.median)} (min ${f(x.min)}, max ${f(x.max)})`;
console.log(`runs: ${r.runs}, pages per run: ${r.pages?.count.median} (from ${r.pages?.source})`);
const ms = (ns: number): string => `${(ns / 1e6).toFixed(2)} ms`;
const us = (ns: number): string => `${(ns / 1e3).toFixed(2)} µs`;
console.log(`time: ${s(r.timeNs, ms)}`);
console.log(`per page: ${s(r.nsPerPage!, us)}`);
// The kernel takes one fault per fresh page; V8 may add one of its own on this
// thread now and then (a fresh page of its heap), so the fewest of the runs is
// the exact figure and the median is what a run usually costs.
console.log(`thread faults per page: ${r.faultsPerPage!.min} in the run with the fewest (median ${r.faultsPerPage!.median})`);
console.log(`residency delta: ${s(r.residencyDeltaPages[0]!)} pages`);
console.log(`process RSS delta: ${(r.rssDeltaBytes.median / 1024).toFixed(0)} KiB median (smaps_rollup: the whole process, V8's threads move it too)`);
m.unmap();

// Output (4 KiB pages):
// runs: 7, pages per run: 1024 (from residency)
// time: 2.41 ms (min 2.20 ms, max 3.05 ms)
// per page: 2.35 µs (min 2.15 µs, max 2.98 µs)
// thread faults per page: 1 in the run with the fewest (median 1)
// residency delta: 1024 (min 1024, max 1024) pages
// process RSS delta: 4096 KiB median (smaps_rollup: the whole process, V8's threads move it too)
