/**
 * Benchmarks of the measurement kit: `rss()` fast and exact, `residency()`
 * by each source over 1 GiB, `faults()`; beside the C loop reading the same
 * file or making the same system call, and the Node built-in.
 */
import { mmap, type Mapping } from '../mapping';
import { rss } from '../measure/rss';
import { residency, type ResidencySource } from '../measure/residency';
import { faults } from '../measure/faults';
import { procPath } from '../proc/parse';
import type { Benchmark } from './harness';
import { timeLoop } from './harness';
import { bigSize } from './syscalls';
import { cbench, C } from './cnative';

const rssFast: Benchmark = {
  name: 'rss',
  group: 'measure',
  title: 'rss() (statm, kept descriptor)',
  unit: 'call',
  targets: [{ baseline: 'process.memoryUsage.rss()', maxRatio: 0.3 }],
  prepare({ quick }) {
    const n = quick ? 2 : 2000;
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void rss()) },
      baselines: [
        { label: 'C pread statm', kind: 'c', sample: () => cbench.cbenchProcRead(procPath('self', 'statm'), n, 1, 0) / n },
        { label: 'process.memoryUsage.rss()', kind: 'node', sample: () => timeLoop(n, () => void process.memoryUsage.rss()) },
      ],
      close: () => undefined,
    };
  },
};

const rssExact: Benchmark = {
  name: 'rss-exact',
  group: 'measure',
  title: 'rss({ exact: true }) (smaps_rollup page-table walk)',
  unit: 'call',
  prepare({ quick }) {
    const n = quick ? 2 : 300;
    const opts = { exact: true };
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void rss(opts)) },
      baselines: [
        { label: 'C pread smaps_rollup', kind: 'c', sample: () => cbench.cbenchProcRead(procPath('self', 'smaps_rollup'), n, 1, 1) / n },
        { label: 'process.memoryUsage.rss()', kind: 'node', sample: () => timeLoop(n, () => void process.memoryUsage.rss()) },
      ],
      close: () => undefined,
      notes: ['smaps_rollup walks every page table of the process: its cost grows with resident memory'],
    };
  },
};

function halfResident(size: number): Mapping {
  const m = mmap(size, { noReserve: true });
  m.advise('nohugepage');
  m.advise('populate_write', 0, size / 2);
  return m;
}

function residencyBenchmark(source: ResidencySource, cLabel: string, cFn: (m: Mapping, size: number, n: number) => number, maxRatio?: number): Benchmark {
  return {
    name: `residency-${source.replace('_', '-')}-1g`,
    group: 'measure',
    title: `residency(mapping, { source: '${source}' }) over 1 GiB, half resident`,
    unit: 'call',
    ...(maxRatio ? { targets: [{ baseline: cLabel, maxRatio }] } : {}),
    runs: source === 'pagemap' ? 7 : 15,
    prepare({ quick }) {
      const size = bigSize(quick);
      const n = quick ? 1 : source === 'pagemap' ? 2 : 20;
      const m = halfResident(size);
      const opts = { source };
      const r = residency(m, undefined, undefined, opts);
      if (r.source !== source) {
        m.unmap();
        throw new Error(`source '${source}' unavailable here: ${r.fallback ?? ''}`);
      }
      return {
        subject: { label: 'pagewise', sample: () => timeLoop(n, () => void residency(m, undefined, undefined, opts)) },
        baselines: [{ label: cLabel, kind: 'c', sample: () => cFn(m, size, n) / n }],
        close: () => m.unmap(),
      };
    },
  };
}

const faultsBench: Benchmark = {
  name: 'faults',
  group: 'measure',
  title: "faults() (getrusage(RUSAGE_THREAD) and the thread's perf counters)",
  unit: 'call',
  prepare({ quick }) {
    const n = quick ? 2 : 3000;
    const f = faults();
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void faults()) },
      baselines: [
        { label: 'C getrusage(THREAD)', kind: 'c', sample: () => cbench.cbenchGetrusage(C.RUSAGE_THREAD, n) / n },
        { label: 'process.resourceUsage()', kind: 'node', sample: () => timeLoop(n, () => void process.resourceUsage()) },
      ],
      close: () => undefined,
      notes: ['perf' in f.perf && 'unavailable' in f.perf ? `perf counters unavailable: ${f.perf.unavailable}` : 'perf counters read as well'],
    };
  },
};

const faultsNoPerf: Benchmark = {
  name: 'faults-getrusage',
  group: 'measure',
  title: 'faults({ perf: false }) (getrusage(RUSAGE_THREAD) only)',
  unit: 'call',
  prepare({ quick }) {
    const n = quick ? 2 : 3000;
    const opts = { perf: false };
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void faults(opts)) },
      baselines: [
        { label: 'C getrusage(THREAD)', kind: 'c', sample: () => cbench.cbenchGetrusage(C.RUSAGE_THREAD, n) / n },
        { label: 'process.resourceUsage()', kind: 'node', sample: () => timeLoop(n, () => void process.resourceUsage()) },
      ],
      close: () => undefined,
    };
  },
};

/** The measurement benchmarks. */
export const measureBenchmarks: readonly Benchmark[] = [
  rssFast,
  rssExact,
  residencyBenchmark('mincore', 'C mincore', (m, size, n) => cbench.cbenchMincore(m, 0, size, n), 1.2),
  residencyBenchmark('pagemap', 'C pread pagemap', (m, size, n) => cbench.cbenchPagemap(m, 0, size, n)),
  residencyBenchmark('pagemap_scan', 'C PAGEMAP_SCAN', (m, size, n) => cbench.cbenchPagemapScan(m, 0, size, n, 1)),
  faultsBench,
  faultsNoPerf,
];
