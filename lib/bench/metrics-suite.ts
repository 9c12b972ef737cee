/**
 * Benchmarks of the operator-facing figures: `memoryUsage()`
 * beside `process.memoryUsage()`, and one reading of `pagewise/metrics` on a
 * process with 2,000 mappings and 1 GiB resident (the overhead budget: at
 * a 15 s scrape, at most 0.5% of one core), beside the kernel's own walk.
 */
import * as fs from 'node:fs';
import { mmap, type Mapping } from '../mapping';
import { memoryUsage } from '../measure/memory-usage';
import { readMaps } from '../kernel/maps-query';
import { procPath } from '../kernel/parse';
import { resolveMetricsOptions, Sampler } from '../metrics/sampler';
import type { Benchmark } from './harness';
import { timeLoop } from './harness';
import { cbench } from './cnative';

const memoryUsageStatm: Benchmark = {
  name: 'memory-usage',
  group: 'measure',
  title: 'memoryUsage() (process.memoryUsage() shape, rss from statm)',
  unit: 'call',
  targets: [{ baseline: 'process.memoryUsage()', maxRatio: 1.5 }],
  prepare({ quick }) {
    const n = quick ? 2 : 2000;
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void memoryUsage()) },
      baselines: [
        { label: 'process.memoryUsage()', kind: 'node', sample: () => timeLoop(n, () => void process.memoryUsage()) },
        { label: 'C pread statm', kind: 'c', sample: () => cbench.cbenchProcRead(procPath('self', 'statm'), n, 1, 0) / n },
      ],
      close: () => undefined,
    };
  },
};

const memoryUsageRollup: Benchmark = {
  name: 'memory-usage-rollup',
  group: 'measure',
  title: 'memoryUsage({ rollup: true }) (rss, pss, uss, swap, anonHuge from smaps_rollup)',
  unit: 'call',
  prepare({ quick }) {
    const n = quick ? 2 : 200;
    const opts = { rollup: true };
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void memoryUsage(opts)) },
      baselines: [
        { label: 'process.memoryUsage()', kind: 'node', sample: () => timeLoop(n, () => void process.memoryUsage()) },
        { label: 'C pread smaps_rollup', kind: 'c', sample: () => cbench.cbenchProcRead(procPath('self', 'smaps_rollup'), n, 1, 1) / n },
      ],
      close: () => undefined,
      notes: ['smaps_rollup walks every page table of the process: its cost grows with resident memory and mappings'],
    };
  },
};

/**
 * `count` anonymous mappings of `total / count` bytes each, every page
 * written (MADV_POPULATE_WRITE): every other one advised MADV_NOHUGEPAGE so
 * neighbours differ in flags and the kernel cannot merge them into one VMA.
 */
function manyMappings(count: number, total: number): Mapping[] {
  const each = Math.floor(total / count);
  const out: Mapping[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const m = mmap(each, { noReserve: true });
      out.push(m);
      if (i % 2 === 1) m.advise('nohugepage');
      m.advise('populate_write');
    }
  } catch (err) {
    for (const m of out) m.unmap();
    throw err;
  }
  return out;
}

/** The longest single `read()` of this process's smaps with the buffer explain() uses (256 KiB), ns: how long the kernel holds mmap_lock at one time for it. */
function longestSmapsRead(): { longest: number; reads: number } {
  const fd = fs.openSync(procPath('self', 'smaps'), 'r');
  const buf = Buffer.allocUnsafeSlow(256 * 1024);
  let longest = 0;
  let reads = 0;
  try {
    for (let off = 0; ; ) {
      const t0 = process.hrtime.bigint();
      const n = fs.readSync(fd, buf, 0, buf.length, off);
      const t = Number(process.hrtime.bigint() - t0);
      reads++;
      if (t > longest) longest = t;
      if (n === 0) break;
      off += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { longest, reads };
}

function scrapeBenchmark(name: string, title: string, options: { categories: boolean }): Benchmark {
  return {
    name,
    group: 'measure',
    title,
    unit: 'reading',
    runs: 9,
    prepare({ quick }) {
      const count = quick ? 20 : 2000;
      const maps = manyMappings(count, quick ? 4 * 2 ** 20 : 2 ** 30);
      const sampler = new Sampler(resolveMetricsOptions({ minIntervalMs: 0, categoriesIntervalMs: 0, categories: options.categories }));
      const n = quick ? 1 : options.categories ? 3 : 50;
      const vmas = readMaps().length;
      const first = sampler.readNow();
      const smaps = longestSmapsRead();
      const ms = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(3)} ms`);
      return {
        subject: { label: 'pagewise', sample: () => timeLoop(n, () => void sampler.readNow()) },
        baselines: [
          { label: 'C pread smaps_rollup', kind: 'c', sample: () => cbench.cbenchProcRead(procPath('self', 'smaps_rollup'), n, 1, 1) / n },
          { label: 'process.memoryUsage()', kind: 'node', sample: () => timeLoop(n, () => void process.memoryUsage()) },
        ],
        close: () => {
          for (const m of maps) m.unmap();
        },
        notes: [
          `${vmas} VMAs in the process; ${count} mappings of ${Math.floor((quick ? 4 * 2 ** 20 : 2 ** 30) / count / 1024)} KiB written`,
          `one reading's parts (first reading): statm ${ms(first.costMs.statm)}, smaps_rollup ${ms(first.costMs.smapsRollup)}, explain() ${ms(first.costMs.explain)}, arenas ${ms(first.costMs.arenas)}`,
          `mmap_lock: smaps_rollup holds it for its one read (its whole walk); smaps for each read() of 256 KiB: ${smaps.reads} reads, the longest ${(smaps.longest / 1e6).toFixed(3)} ms`,
          'percent of one core at a 15 s scrape = median ns per reading / 15e9 x 100',
        ],
      };
    },
  };
}

export const metricsBenchmarks: readonly Benchmark[] = [
  memoryUsageStatm,
  memoryUsageRollup,
  scrapeBenchmark('metrics-reading-2000', 'one pagewise/metrics reading with categories (statm, smaps_rollup, explain(), arenas), 2,000 mappings, 1 GiB resident', { categories: true }),
  scrapeBenchmark('metrics-reading-cheap-2000', 'one pagewise/metrics reading without categories (statm, smaps_rollup, arenas), 2,000 mappings, 1 GiB resident', { categories: false }),
];
