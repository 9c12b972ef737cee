/**
 * Arena benchmarks: alloc+free at 64 B, 4 KiB, 64 KiB and 1 MiB beside
 * `Buffer.alloc`, `Buffer.allocUnsafe` and glibc malloc+free; `prefault` of
 * 1 GiB beside C `MADV_POPULATE_WRITE` and first-touch loops; `reset()` of
 * 1 GiB of dirty pages beside C `MADV_DONTNEED`.
 */
import { Arena } from '../arena/arena';
import { mmap } from '../mapping';
import { pageSize } from '../system';
import type { Baseline, Benchmark, Target } from './harness';
import { timeLoop, timeOnce } from './harness';
import { bigSize } from './syscalls';
import { touchContenders, touchSize } from './pages';
import { cbench, C } from './cnative';

const KiB = 1024;
const MiB = 1024 * KiB;

function sizeText(size: number): string {
  return size >= MiB ? `${size / MiB} MiB` : size >= KiB ? `${size / KiB} KiB` : `${size} B`;
}

function allocBenchmark(size: number, target?: Target): Benchmark {
  const text = sizeText(size);
  return {
    name: `arena-alloc-${size >= MiB ? `${size / MiB}m` : size >= KiB ? `${size / KiB}k` : `${size}b`}`,
    group: 'arena',
    title: `arena.alloc(${text}) + arena.free(view)`,
    unit: 'alloc+free',
    ...(target ? { targets: [target] } : {}),
    prepare({ quick }) {
      const n = quick ? 2 : size >= MiB ? 300 : size >= 64 * KiB ? 2000 : 20000;
      const nNode = quick ? 2 : size >= MiB ? 100 : n;
      const arena = new Arena({ reserve: 64 * MiB, hugePages: false });
      arena.free(arena.alloc(size));
      const baselines: Baseline[] = [
        { label: `Buffer.alloc(${text})`, kind: 'node', sample: () => timeLoop(nNode, () => void Buffer.alloc(size)) },
        { label: `Buffer.allocUnsafe(${text})`, kind: 'node', sample: () => timeLoop(nNode, () => void Buffer.allocUnsafe(size)) },
        { label: `C malloc+free(${text})`, kind: 'c', sample: () => cbench.cbenchMallocFree(size, n) / n },
      ];
      return {
        subject: { label: 'pagewise', sample: () => timeLoop(n, () => arena.free(arena.alloc(size))) },
        baselines,
        close: () => arena.close(),
        notes: size >= 256 * KiB ? ['a block this large gets its own page run, purged (MADV_DONTNEED) when freed'] : [],
      };
    },
  };
}

const prefault1g: Benchmark = {
  name: 'arena-prefault-1g',
  group: 'arena',
  title: 'arena.prefault(1 GiB) of committed, purged pages (reset() between samples)',
  unit: 'page',
  runs: 4,
  targets: [
    { baseline: 'C MADV_POPULATE_WRITE', maxRatio: 1.1 },
    { baseline: 'JS touch loop', maxRatio: 0.1 },
  ],
  prepare({ quick }) {
    const size = bigSize(quick);
    const pages = size / pageSize();
    const arena = new Arena({ reserve: size, hugePages: false });
    arena.prefault(size);
    arena.reset();
    const m = mmap(size, { noReserve: true });
    m.advise('nohugepage');
    const region = m.region;
    const drop = (): void => void m.advise('dontneed');
    return {
      subject: { label: 'pagewise', sample: () => { const ns = timeOnce(() => arena.prefault(size)); arena.reset(); return ns / pages; } },
      baselines: [
        { label: 'C MADV_POPULATE_WRITE', kind: 'c', sample: () => { const ns = cbench.cbenchMadvise(region, 0, size, C.MADV_POPULATE_WRITE!, 1); drop(); return ns / pages; } },
        ...touchContenders(m, size),
      ],
      close: () => { arena.close(); m.unmap(); },
      notes: [`touch loops cover ${touchSize(size) / MiB} MiB; figures per page`],
    };
  },
};

const reset1g: Benchmark = {
  name: 'arena-reset-1g',
  group: 'arena',
  title: 'arena.reset() of 1 GiB of dirty pages (prefaulted outside the timing)',
  unit: 'page',
  runs: 4,
  targets: [{ baseline: 'C MADV_DONTNEED', maxRatio: 1.1 }],
  prepare({ quick }) {
    const size = bigSize(quick);
    const pages = size / pageSize();
    const arena = new Arena({ reserve: size, hugePages: false });
    const m = mmap(size, { noReserve: true });
    m.advise('nohugepage');
    const region = m.region;
    return {
      subject: { label: 'pagewise', sample: () => { arena.prefault(size); return timeOnce(() => arena.reset()) / pages; } },
      baselines: [
        {
          label: 'C MADV_DONTNEED', kind: 'c',
          sample: () => { m.advise('populate_write'); return cbench.cbenchMadvise(region, 0, size, C.MADV_DONTNEED!, 1) / pages; },
        },
      ],
      close: () => { arena.close(); m.unmap(); },
    };
  },
};

/** The arena benchmarks. */
export const arenaBenchmarks: readonly Benchmark[] = [
  allocBenchmark(64, { baseline: 'Buffer.allocUnsafe(64 B)', maxRatio: 1 }),
  allocBenchmark(4 * KiB, { baseline: 'Buffer.alloc(4 KiB)', maxRatio: 0.1 }),
  allocBenchmark(64 * KiB, { baseline: 'Buffer.alloc(64 KiB)', maxRatio: 0.05 }),
  allocBenchmark(MiB),
  prefault1g,
  reset1g,
];
