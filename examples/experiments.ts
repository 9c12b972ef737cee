// Experiments as a library: run two of them, print each verdict with the
// figures it was computed from, then look at one measurement directly.
// Run: npm run build:ts && node dist/examples/experiments.js
// What reading fresh pages costs depends on the kernel (the shared zero page,
// or a real page per read fault): experiment 1 measures it and says which,
// so there is one Output block for each case. Committed_AS is system-wide:
// other processes move it.
import { cowFork, runExperiments } from 'pagewise/experiments';

for (const r of runExperiments(['zero-fill', 'rlimit-data'])) {
  console.log(`${r.number}. ${r.title}: ${r.verdict}`);
  for (const name of r.key) {
    const m = r.measurements.find((x) => x.name === name);
    if (m) console.log(`   ${m.name} = ${m.value}${m.unit ? ` ${m.unit}` : ''}  [${m.source}]`);
  }
  if (r.condition) console.log(`   ${r.verdict === 'depends' ? 'when' : 'why'}: ${r.condition}`);
}

// One experiment by itself: copy-on-write after fork, counted in the child.
const cow = cowFork.run();
const faults = cow.measurements.find((x) => x.name === 'child faults writing 32 of them');
console.log(`COW: ${cow.verdict}, child faults for 32 writes: ${faults?.value}`);

// Output (4 KiB pages, where read faults map the shared zero page):
// 1. Zero-fill-on-demand: confirmed
//    faults writing 256 fresh pages = 256 faults  [getrusage(RUSAGE_THREAD), best of up to 5 trials]
//    pages resident after writing 256 = 256 pages  [mincore]
//    mapping Rss added by reading 256 pages = 0 bytes  [/proc/self/smaps (excludes the shared zero page)]
//    Committed_AS change, MAP_NORESERVE = 0 bytes  [/proc/meminfo, median of 9 interleaved trials (system-wide: other processes add noise)]
//    why: read faults map the shared zero page here (reading 256 pages added 0 bytes of Rss)
// 9. RLIMIT_DATA and mmap: refuted
//    mmap private read+write = ENOMEM  [pagewise-probe]
//    malloc (served by mmap) = ENOMEM  [pagewise-probe]
//    mmap shared read+write = ok  [pagewise-probe]
//    mmap PROT_NONE, then mprotect read+write = ok, then ENOMEM  [pagewise-probe]
//    why: since Linux 4.7 RLIMIT_DATA counts private writable mappings: a 64 MiB mmap under a 32 MiB limit failed with ENOMEM (so did malloc: ENOMEM); shared (ok) and read-only (ok) mappings still escape
// COW: confirmed, child faults for 32 writes: 32

// Output (4 KiB pages, where read faults allocate a page):
// 1. Zero-fill-on-demand: confirmed
//    faults writing 256 fresh pages = 256 faults  [getrusage(RUSAGE_THREAD), best of up to 5 trials]
//    pages resident after writing 256 = 256 pages  [mincore]
//    mapping Rss added by reading 256 pages = 1048576 bytes  [/proc/self/smaps (excludes the shared zero page)]
//    Committed_AS change, MAP_NORESERVE = 0 bytes  [/proc/meminfo, median of 9 interleaved trials (system-wide: other processes add noise)]
//    why: this kernel does not map the shared zero page on read faults: reading 256 fresh pages took 256 faults and added 1.0 MiB of Rss, like writes
// 9. RLIMIT_DATA and mmap: refuted
//    mmap private read+write = ENOMEM  [pagewise-probe]
//    malloc (served by mmap) = ENOMEM  [pagewise-probe]
//    mmap shared read+write = ok  [pagewise-probe]
//    mmap PROT_NONE, then mprotect read+write = ok, then ENOMEM  [pagewise-probe]
//    why: since Linux 4.7 RLIMIT_DATA counts private writable mappings: a 64 MiB mmap under a 32 MiB limit failed with ENOMEM (so did malloc: ENOMEM); shared (ok) and read-only (ok) mappings still escape
// COW: confirmed, child faults for 32 writes: 32
