/**
 * Experiment 17: how far is `process.memoryUsage().rss` from the exact RSS?
 *
 * libuv (so `process.memoryUsage().rss`, and `pidusage`) reads
 * `/proc/self/stat`, whose RSS is the global part of the kernel's per-CPU
 * counters: page counts a CPU has not yet folded in are missing. `statm` is
 * the exact sum since Linux 6.16 (6.12.y and 6.15.y backports); the
 * `smaps_rollup` page-table walk is exact on every kernel. A fresh Node
 * process runs worker threads that mmap, touch and munmap mappings of random
 * sizes; at each sample the workers pause (Atomics), and the main thread
 * reads statm, stat, statm, smaps_rollup, statm. A sample counts only when
 * the statm readings around the one it compares agree (nothing moved while it read).
 */
import * as os from 'node:os';
import { pageSize } from '../kernel/system';
import { statmIsExact } from '../measure/memory-usage';
import { median } from './common';
import { defineExperiment, m, type Outcome } from './define';
import type { ExperimentMeasurement, Series } from './experiment';
import { decide, inconclusiveText, nodeChild, packageIndex, showDecision, showLoad, type Decision } from './trials';

interface Sample {
  statm: number;
  stat: number;
  rollup: number;
  steady: boolean;
  rollupSteady: boolean;
}

const THREADS = 4;
const SAMPLES = 81;

const WORKER = `
const { workerData } = require('node:worker_threads');
const pw = require(workerData.index);
const ctl = new Int32Array(workerData.sab);
const page = pw.pageSize();
let seed = workerData.seed;
const held = [];
while (Atomics.load(ctl, 2) === 0) {
  if (Atomics.load(ctl, 0) === 1) {
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
    while (Atomics.load(ctl, 0) === 1) Atomics.wait(ctl, 0, 1, 50);
    Atomics.sub(ctl, 1, 1);
    continue;
  }
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  const pages = 1 + (seed % 61);
  const map = pw.mmap(pages * page);
  map.advise('nohugepage');
  map.advise('populate_write');
  held.push(map);
  if (held.length > 16) held.splice(seed % held.length, 1)[0].unmap();
}
for (const map of held) map.unmap();
`;

const SCRIPT = (index: string): string => `
const { Worker } = require('node:worker_threads');
const sab = new SharedArrayBuffer(16);
const ctl = new Int32Array(sab);
const workers = Array.from({ length: ${THREADS} }, (_, i) => new Worker(${JSON.stringify(WORKER)}, { eval: true, workerData: { index: ${JSON.stringify(index)}, sab, seed: i + 1 } }));
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  await wait(300);
  const samples = [];
  for (let s = 0; s < ${SAMPLES}; s++) {
    await wait(10 + (s % 5) * 7);
    Atomics.store(ctl, 0, 1);
    while (Atomics.load(ctl, 1) < ${THREADS}) Atomics.wait(ctl, 1, Atomics.load(ctl, 1), 20);
    const a = pw.readStatm().resident;
    const stat = process.memoryUsage.rss();
    const b = pw.readStatm().resident;
    const rollup = pw.readSmapsRollup().rss;
    const c = pw.readStatm().resident;
    Atomics.store(ctl, 0, 0);
    Atomics.notify(ctl, 0);
    samples.push({ statm: b, stat, rollup, steady: a === b, rollupSteady: b === c });
  }
  Atomics.store(ctl, 2, 1);
  Atomics.notify(ctl, 0);
  await Promise.all(workers.map((w) => new Promise((r) => w.on('exit', r))));
  console.log(JSON.stringify(samples));
})();
`;

/** `12 pages (48 KiB)`. */
function pagesText(pages: number, page = pageSize()): string {
  if (!Number.isFinite(pages)) return String(pages);
  const p = Math.round(pages * 10) / 10;
  return `${p} page${p === 1 ? '' : 's'} (${Math.round((p * page) / 1024)} KiB)`;
}

/** The verdict and its condition from the decision over |stat - exact| in pages (exported for the wording test). */
export function rssSourcesVerdict(d: Decision, exact: 'statm' | 'smaps_rollup'): { verdict: Outcome['verdict']; condition: string } {
  const fmt = (v: number): string => pagesText(v);
  const what = `process.memoryUsage().rss (/proc/self/stat) minus ${exact}, in absolute value, with the worker threads paused:`;
  if (d.outcome === 'inconclusive') return { verdict: 'depends', condition: inconclusiveText(what, d, 'the one-page threshold', fmt, 'samples') };
  const said = `${what} ${showDecision(d, fmt, 'samples')}, ${showLoad(d)}`;
  return {
    verdict: d.outcome,
    condition: d.outcome === 'confirmed' ? `${said}: the estimate misses what the CPUs have not folded in yet` : `${said}: on this machine the estimate matched the exact figure`,
  };
}

function body(): Outcome {
  const page = pageSize();
  const exactStatm = statmIsExact();
  const exact: 'statm' | 'smaps_rollup' = exactStatm ? 'statm' : 'smaps_rollup';
  const samples = nodeChild<Sample[]>(SCRIPT(packageIndex()));
  const steady = samples.filter((s) => s.steady);
  const truth = (s: Sample): number => (exactStatm ? s.statm : s.rollup);
  const gaps = steady.filter((s) => exactStatm || s.rollupSteady).map((s) => (s.stat - truth(s)) / page);
  let i = 0;
  // The samples are taken first (one child); the decision looks at them in order and stops where the interval decides.
  const d = decide({ holds: [1, Infinity], warmup: 0, minTrials: 9, maxTrials: SAMPLES, budgetMs: Infinity, trial: () => (i < gaps.length ? Math.abs(gaps[i++]!) : NaN) });
  const abs = gaps.map(Math.abs);
  const cpus = os.cpus().length;
  const ms: ExperimentMeasurement[] = [
    m('exact source', exact, '', exactStatm ? 'statm is an exact sum on Linux 6.16+ (statmIsExact())' : 'smaps_rollup (statm is approximate before Linux 6.16)'),
    m('worker threads churning mmap/munmap', THREADS, 'threads', 'worker_threads'),
    m('CPUs', cpus, '', 'os.cpus()'),
    m('steady samples', steady.length, `of ${samples.length}`, 'the statm readings before and after the stat read equal'),
    m('median |stat - exact|', Math.round(d.median * 10) / 10, 'pages', `/proc/self/stat (process.memoryUsage().rss) vs ${exact}; 95% interval [${d.low}, ${d.high}] pages`),
    m('largest |stat - exact|', abs.length ? Math.max(...abs) : null, 'pages', `/proc/self/stat vs ${exact}`),
    m('samples where stat is below exact', gaps.filter((g) => g < 0).length, 'samples', `/proc/self/stat vs ${exact}`),
    m('median |statm - smaps_rollup|', samples.some((s) => s.rollupSteady) ? Math.round(median(samples.filter((s) => s.rollupSteady).map((s) => Math.abs(s.statm - s.rollup) / page)) * 10) / 10 : null, 'pages', 'statm vs smaps_rollup'),
    m('load average (1 min) during the samples', Number(d.loadavg[1].toFixed(2)), '', 'os.loadavg()'),
  ];
  const series: Series[] = [{ name: `stat - ${exact}`, x: gaps.map((_, k) => k), y: gaps, xUnit: 'sample', yUnit: 'pages' }];
  const { verdict, condition } = rssSourcesVerdict(d, exact);
  return {
    measurements: ms,
    verdict,
    condition,
    notes:
      'process.memoryUsage().rss reads /proc/self/stat, the kernel\'s per-CPU RSS counters without the parts each CPU still holds (up to a batch per CPU, so the error grows with the CPU count: about 1 GB has been seen on many-CPU hosts). ' +
      'statm is the exact sum since Linux 6.16; smaps_rollup walks the page tables on any kernel (it leaves out the shared zero page). pagewise.rss() reads statm.',
    key: ['exact source', 'median |stat - exact|', 'largest |stat - exact|', 'median |statm - smaps_rollup|'],
    series,
  };
}

/** Experiment 17: the RSS sources. */
export const rssSources = defineExperiment(
  {
    id: 'rss-sources',
    number: 17,
    title: 'How exact is process.memoryUsage().rss?',
    question: 'How far is process.memoryUsage().rss (/proc/self/stat) from the exact RSS (statm since Linux 6.16, smaps_rollup) under mmap/munmap churn on worker threads?',
    claim: 'process.memoryUsage().rss is an estimate from per-CPU counters: after mmap/munmap on other threads it differs from the exact RSS, which statm (Linux 6.16+) and smaps_rollup give.',
  },
  body,
);
