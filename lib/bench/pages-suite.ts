/**
 * Per-page benchmarks of the ways to prefault memory (MADV_POPULATE_WRITE,
 * MAP_POPULATE, a first-touch loop) and to give it back (MADV_DONTNEED,
 * MADV_FREE). Each sample starts from the same state (fresh pages for
 * prefaulting, dirty pages for purging), restored outside the timed part.
 */
import { mmap, type Mapping } from '../mapping';
import { native } from '../native/binding';
import { pageSize } from '../kernel/system';
import { adviceSupported } from '../mapping/flags';
import type { Baseline, Benchmark } from './harness';
import { timeOnce } from './harness';
import { cbench, C } from './cnative';

/** Size of the per-page prefault and purge benchmarks: 256 MiB (4 MiB when quick). */
export function pageGroupSize(quick: boolean): number {
  return (quick ? 4 : 256) * 1024 * 1024;
}

/** A first-touch loop from JS: one byte written per page through a view. */
export function jsTouch(view: Uint8Array, page: number): void {
  for (let o = 0; o < view.length; o += page) view[o] = 1;
}

/** Bytes the touch loops cover: a quarter of the range, as they can cost ~15x more per page (figures are per page). */
export function touchSize(size: number): number {
  return Math.max(pageSize(), size / 4);
}

function freshMapping(size: number): Mapping {
  const m = mmap(size, { noReserve: true });
  m.advise('nohugepage');
  return m;
}

/** Per-page C and JS first-touch contenders over `m`'s first touchSize(size) bytes, dropped after each sample. */
export function touchContenders(m: Mapping, size: number): Baseline[] {
  const page = pageSize();
  const tsize = touchSize(size);
  const tpages = tsize / page;
  const region = m.region;
  const view = m.view(0, tsize);
  const drop = (): void => native.madvise(region, 0, tsize, C.MADV_DONTNEED);
  return [
    { label: 'C touch loop', kind: 'c', sample: () => { const ns = cbench.cbenchTouch(m, 0, tsize, page); drop(); return ns / tpages; } },
    { label: 'JS touch loop', kind: 'node', sample: () => { const ns = timeOnce(() => jsTouch(view, page)); drop(); return ns / tpages; } },
  ];
}

const populateWrite: Benchmark = {
  name: 'prefault-populate-write',
  group: 'prefault',
  title: "Mapping.advise('populate_write') of 256 MiB of fresh pages",
  unit: 'page',
  runs: 5,
  prepare({ quick }) {
    if (!adviceSupported('populate_write')) throw new Error('MADV_POPULATE_WRITE needs Linux 5.14+');
    const size = pageGroupSize(quick);
    const pages = size / pageSize();
    const m = freshMapping(size);
    const region = m.region;
    const drop = (): void => native.madvise(region, 0, size, C.MADV_DONTNEED);
    return {
      subject: { label: 'pagewise', sample: () => { const ns = timeOnce(() => m.advise('populate_write')); drop(); return ns / pages; } },
      baselines: [
        { label: 'C MADV_POPULATE_WRITE', kind: 'c', sample: () => { const ns = cbench.cbenchMadvise(m, 0, size, C.MADV_POPULATE_WRITE, 1); drop(); return ns / pages; } },
        ...touchContenders(m, size),
      ],
      close: () => m.unmap(),
      notes: [`touch loops cover the first ${touchSize(size) / 1048576} MiB; all figures per ${pageSize()}-byte page`],
    };
  },
};

const mapPopulate: Benchmark = {
  name: 'prefault-map-populate',
  group: 'prefault',
  title: 'mmap(256 MiB, { populate: true }) (MAP_POPULATE; the unmap is not timed)',
  unit: 'page',
  runs: 5,
  prepare({ quick }) {
    const size = pageGroupSize(quick);
    const pages = size / pageSize();
    const scratch = freshMapping(size);
    return {
      subject: {
        label: 'pagewise',
        sample: () => {
          let m: Mapping | undefined;
          const ns = timeOnce(() => { m = mmap(size, { populate: true }); });
          m!.unmap();
          return ns / pages;
        },
      },
      baselines: [
        { label: 'C MAP_POPULATE', kind: 'c', sample: () => cbench.cbenchMmapPopulate(size) / pages },
        ...touchContenders(scratch, size),
      ],
      close: () => scratch.unmap(),
    };
  },
};

const touchLoop: Benchmark = {
  name: 'prefault-touch',
  group: 'prefault',
  title: 'first write to each page from JS through Mapping.view()',
  unit: 'page',
  runs: 5,
  prepare({ quick }) {
    const size = touchSize(pageGroupSize(quick));
    const m = freshMapping(size);
    const [c, js] = touchContenders(m, size * 4);
    return {
      subject: { label: 'pagewise', sample: js!.sample },
      baselines: [c!],
      close: () => m.unmap(),
    };
  },
};

function purgeBenchmark(name: string, advice: 'dontneed' | 'free', num: () => number): Benchmark {
  return {
    name,
    group: 'purge',
    title: `Mapping.advise('${advice}') of 256 MiB of dirty pages`,
    unit: 'page',
    runs: 5,
    prepare({ quick }) {
      if (!adviceSupported(advice) || !adviceSupported('populate_write')) throw new Error(`MADV_${advice.toUpperCase()} or MADV_POPULATE_WRITE unsupported here`);
      const size = pageGroupSize(quick);
      const pages = size / pageSize();
      const m = freshMapping(size);
      const region = m.region;
      // Dirty every page (and, for MADV_FREE, drop what a previous sample left lazily freed).
      const dirty = (): void => {
        native.madvise(region, 0, size, C.MADV_DONTNEED);
        native.madvise(region, 0, size, C.MADV_POPULATE_WRITE);
      };
      return {
        subject: { label: 'pagewise', sample: () => { dirty(); return timeOnce(() => m.advise(advice)) / pages; } },
        baselines: [{ label: `C MADV_${advice.toUpperCase()}`, kind: 'c', sample: () => { dirty(); return cbench.cbenchMadvise(m, 0, size, num(), 1) / pages; } }],
        close: () => m.unmap(),
      };
    },
  };
}

/** Prefault and purge benchmarks, per page. */
export const pageBenchmarks: readonly Benchmark[] = [
  populateWrite,
  mapPopulate,
  touchLoop,
  purgeBenchmark('purge-dontneed', 'dontneed', () => C.MADV_DONTNEED),
  purgeBenchmark('purge-free', 'free', () => C.MADV_FREE),
];
