/**
 * Benchmarks of the measurement kit: `rss()` fast and exact, `residency()`
 * by each source over 1 GiB, `faults()`, `getrusage()`; beside the C loop reading the same
 * file or making the same system call, and the Node built-in.
 */
import { mmap, type Mapping } from '../mapping';
import { rss } from '../measure/rss';
import { residency, type ResidencySource } from '../measure/residency';
import { faults, type FaultsOptions } from '../measure/faults';
import { getrusage } from '../process/rusage';
import { native } from '../native/binding';
import { procPath } from '../kernel/parse';
import type { Baseline, Benchmark } from './harness';
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
        baselines: [
          { label: cLabel, kind: 'c', sample: () => cFn(m, size, n) / n },
          // mincore's own native call, bare: what residency() adds to it is its JS (and no guard-page scan unless one can find something).
          ...(source === 'mincore' ? [{ label: 'native mincore from JS', kind: 'napi' as const, sample: () => timeLoop(n, () => void native.mincore(m.region, 0, size, null)) }] : []),
        ],
        close: () => m.unmap(),
      };
    },
  };
}

// Loops of their own for the sub-microsecond calls, as in syscalls.ts: a
// loop calling one function is monomorphic and V8 inlines the call, where
// the shared timeLoop(fn) adds a closure call per iteration that the C loop
// does not pay (a visible share of a call as cheap as getrusage).

function faultsLoop(n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) faults();
  return Number(process.hrtime.bigint() - t0) / n;
}

function faultsOptionsLoop(n: number, options: FaultsOptions): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) faults(options);
  return Number(process.hrtime.bigint() - t0) / n;
}

function faultsOutLoop(n: number, out: Float64Array): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) faults(out);
  return Number(process.hrtime.bigint() - t0) / n;
}

function getrusageLoop(n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) getrusage();
  return Number(process.hrtime.bigint() - t0) / n;
}

function getrusageOutLoop(n: number, out: Float64Array): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) getrusage('thread', out);
  return Number(process.hrtime.bigint() - t0) / n;
}

/** The native call getrusage() makes, bare from a JS loop: the N-API floor. */
function nativeGetrusageLoop(n: number, who: number, out: Float64Array): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) native.getrusage(who, out);
  return Number(process.hrtime.bigint() - t0) / n;
}

function resourceUsageLoop(n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) process.resourceUsage();
  return Number(process.hrtime.bigint() - t0) / n;
}

const C_GETRUSAGE = 'C getrusage(THREAD)';

function cGetrusage(n: number): Baseline {
  return { label: C_GETRUSAGE, kind: 'c', sample: () => cbench.cbenchGetrusage(C.RUSAGE_THREAD, n) / n };
}

const faultsBench: Benchmark = {
  name: 'faults',
  group: 'measure',
  title: "faults() (getrusage(RUSAGE_THREAD) and the thread's perf counters)",
  unit: 'call',
  targets: [{ baseline: C_GETRUSAGE, maxRatio: 2 }],
  prepare({ quick }) {
    const n = quick ? 2 : 3000;
    const f = faults();
    const perf = 'minor' in f.perf;
    const baselines: Baseline[] = [cGetrusage(n)];
    // The same three system calls in C: what the default answer costs at the limit.
    if (perf) baselines.push({ label: 'C getrusage + perf group read', kind: 'c', sample: () => cbench.cbenchGetrusagePerf(n) / n });
    baselines.push({ label: 'process.resourceUsage()', kind: 'node', sample: () => resourceUsageLoop(n) });
    return {
      subject: { label: 'pagewise', sample: () => faultsLoop(n) },
      baselines,
      close: () => undefined,
      notes: [
        perf
          ? 'perf counters read as well (the default, kept for compatibility): two system calls (getrusage, one read of the perf counter group); faults(out) and faults({ perf: false }) make one'
          : `perf counters unavailable: ${'unavailable' in f.perf ? f.perf.unavailable : ''}`,
      ],
    };
  },
};

const faultsNoPerf: Benchmark = {
  name: 'faults-getrusage',
  group: 'measure',
  title: 'faults({ perf: false }) (getrusage(RUSAGE_THREAD) only)',
  unit: 'call',
  targets: [{ baseline: C_GETRUSAGE, maxRatio: 2 }],
  prepare({ quick }) {
    const n = quick ? 2 : 3000;
    const opts = { perf: false };
    return {
      subject: { label: 'pagewise', sample: () => faultsOptionsLoop(n, opts) },
      baselines: [cGetrusage(n), { label: 'process.resourceUsage()', kind: 'node', sample: () => resourceUsageLoop(n) }],
      close: () => undefined,
    };
  },
};

const faultsOut: Benchmark = {
  name: 'faults-out',
  group: 'measure',
  title: 'faults(out) (getrusage(RUSAGE_THREAD) into a reused Float64Array)',
  unit: 'call',
  targets: [{ baseline: C_GETRUSAGE, maxRatio: 2 }],
  prepare({ quick }) {
    const n = quick ? 2 : 3000;
    const out = new Float64Array(2);
    const raw = new Float64Array(8);
    return {
      subject: { label: 'pagewise', sample: () => faultsOutLoop(n, out) },
      baselines: [
        cGetrusage(n),
        { label: 'native getrusage from JS', kind: 'napi', sample: () => nativeGetrusageLoop(n, C.RUSAGE_THREAD, raw) },
        { label: 'process.resourceUsage()', kind: 'node', sample: () => resourceUsageLoop(n) },
      ],
      close: () => undefined,
    };
  },
};

const getrusageBench: Benchmark = {
  name: 'getrusage',
  group: 'measure',
  title: "getrusage() (RUSAGE_THREAD, the result object)",
  unit: 'call',
  targets: [{ baseline: C_GETRUSAGE, maxRatio: 1.2 }],
  prepare({ quick }) {
    const n = quick ? 2 : 3000;
    const raw = new Float64Array(8);
    return {
      subject: { label: 'pagewise', sample: () => getrusageLoop(n) },
      baselines: [
        cGetrusage(n),
        { label: 'native getrusage from JS', kind: 'napi', sample: () => nativeGetrusageLoop(n, C.RUSAGE_THREAD, raw) },
        { label: 'process.resourceUsage()', kind: 'node', sample: () => resourceUsageLoop(n) },
      ],
      close: () => undefined,
    };
  },
};

const getrusageOut: Benchmark = {
  name: 'getrusage-out',
  group: 'measure',
  title: "getrusage('thread', out) (into a reused Float64Array)",
  unit: 'call',
  targets: [{ baseline: C_GETRUSAGE, maxRatio: 1.2 }],
  prepare({ quick }) {
    const n = quick ? 2 : 3000;
    const out = new Float64Array(8);
    const raw = new Float64Array(8);
    return {
      subject: { label: 'pagewise', sample: () => getrusageOutLoop(n, out) },
      baselines: [
        cGetrusage(n),
        { label: 'native getrusage from JS', kind: 'napi', sample: () => nativeGetrusageLoop(n, C.RUSAGE_THREAD, raw) },
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
  faultsOut,
  getrusageBench,
  getrusageOut,
];
