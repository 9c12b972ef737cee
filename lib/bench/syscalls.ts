/**
 * Benchmarks of the syscall wrappers: one `madvise` of a page, `mmap` +
 * `unmap` of a page, `mincore` over 1 GiB, a `mprotect` pair; each beside a
 * C loop doing the same system calls over the same range.
 */
import { mmap, type Mapping } from '../mapping';
import { pageSize } from '../kernel/system';
import type { Benchmark } from './harness';
import { timeLoop } from './harness';
import { cbench, C } from './cnative';
import { native, type RegionHandle } from '../native/binding';

/** Size of the "1 GiB" benchmarks (a few MiB when quick). */
export function bigSize(quick: boolean): number {
  return quick ? 4 * 1024 * 1024 : 1024 * 1024 * 1024;
}

/** The native calls `mmap(page)` + `unmap()` make, without the Mapping object and its checks. */
function bareMapUnmap(page: number, buffer: boolean): void {
  const r = native.mmap(page, C.PROT_READ | C.PROT_WRITE, C.MAP_PRIVATE | C.MAP_ANONYMOUS, -1, 0, 0n, page);
  if (buffer) native.regionBuffer(r, 0, page);
  native.munmap(r);
}

// Loops of their own for the sub-microsecond calls, as a user writes them:
// a loop calling one function is monomorphic and V8 inlines the call, while
// the shared timeLoop(fn) calls whatever closure it is given (a closure
// call per iteration, which the C loop does not pay).

function adviseLoop(m: Mapping, page: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) m.advise('dontneed', 0, page);
  return Number(process.hrtime.bigint() - t0) / n;
}

function nativeAdviseLoop(region: RegionHandle, page: number, advice: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) native.madvise(region, 0, page, advice);
  return Number(process.hrtime.bigint() - t0) / n;
}

function protectLoop(m: Mapping, page: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) m.protect('none', 0, page).protect('rw', 0, page);
  return Number(process.hrtime.bigint() - t0) / n / 2;
}

function nativeProtectLoop(region: RegionHandle, page: number, none: number, rw: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    native.mprotect(region, 0, page, none);
    native.mprotect(region, 0, page, rw);
  }
  return Number(process.hrtime.bigint() - t0) / n / 2;
}

const madvisePage: Benchmark = {
  name: 'madvise-page',
  group: 'syscall',
  title: "Mapping.advise('dontneed') of one page",
  unit: 'call',
  targets: [{ baseline: 'C madvise', maxRatio: 1.15 }],
  prepare({ quick }) {
    const page = pageSize();
    const n = quick ? 2 : 4000;
    const m = mmap(page);
    const region = m.region;
    return {
      subject: { label: 'pagewise', sample: () => adviseLoop(m, page, n) },
      baselines: [
        { label: 'C madvise', kind: 'c', sample: () => cbench.cbenchMadvise(m, 0, page, C.MADV_DONTNEED, n) / n },
        { label: 'native madvise from JS', kind: 'napi', sample: () => nativeAdviseLoop(region, page, C.MADV_DONTNEED, n) },
      ],
      close: () => m.unmap(),
    };
  },
};

const mmapUnmapPage: Benchmark = {
  name: 'mmap-unmap-page',
  group: 'syscall',
  title: 'mmap(page) + .buffer + unmap() (a Mapping and its ArrayBuffer)',
  unit: 'map+unmap',
  targets: [{ baseline: 'C mmap+munmap', maxRatio: 2 }],
  prepare({ quick }) {
    const page = pageSize();
    const n = quick ? 2 : 1000;
    return {
      subject: {
        label: 'pagewise',
        sample: () =>
          timeLoop(n, () => {
            const m = mmap(page);
            if (m.buffer.byteLength !== page) throw new Error('mmap-unmap-page: wrong buffer length');
            m.unmap();
          }),
      },
      baselines: [
        { label: 'C mmap+munmap', kind: 'c', sample: () => cbench.cbenchMmapMunmap(page, n, 0) / n },
        { label: 'native mmap+buffer+munmap from JS', kind: 'napi', sample: () => timeLoop(n, () => bareMapUnmap(page, true)) },
        { label: 'new ArrayBuffer(page)', kind: 'node', sample: () => timeLoop(n, () => void new ArrayBuffer(page)) },
      ],
      close: () => undefined,
    };
  },
};

const mmapUnmapBare: Benchmark = {
  name: 'mmap-unmap-bare',
  group: 'syscall',
  title: 'mmap(page) + unmap() without creating an ArrayBuffer',
  unit: 'map+unmap',
  prepare({ quick }) {
    const page = pageSize();
    const n = quick ? 2 : 1000;
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void mmap(page).unmap()) },
      baselines: [
        { label: 'C mmap+munmap', kind: 'c', sample: () => cbench.cbenchMmapMunmap(page, n, 0) / n },
        { label: 'native mmap+munmap from JS', kind: 'napi', sample: () => timeLoop(n, () => bareMapUnmap(page, false)) },
      ],
      close: () => undefined,
    };
  },
};

const mincore1g: Benchmark = {
  name: 'mincore-1g',
  group: 'syscall',
  title: 'Mapping.residentPages() (mincore) over 1 GiB, half resident',
  unit: 'call',
  prepare({ quick }) {
    const size = bigSize(quick);
    const n = quick ? 1 : 20;
    const m = mmap(size, { noReserve: true });
    m.advise('nohugepage');
    m.advise('populate_write', 0, size / 2);
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void m.residentPages()) },
      baselines: [{ label: 'C mincore', kind: 'c', sample: () => cbench.cbenchMincore(m, 0, size, n) / n }],
      close: () => m.unmap(),
    };
  },
};

const mprotectPage: Benchmark = {
  name: 'mprotect-page',
  group: 'syscall',
  title: "Mapping.protect('none') then protect('rw') of one page",
  unit: 'call',
  targets: [{ baseline: 'C mprotect', maxRatio: 1.15 }],
  prepare({ quick }) {
    const page = pageSize();
    const n = quick ? 2 : 2000;
    const m = mmap(page);
    const region = m.region;
    return {
      subject: {
        label: 'pagewise',
        sample: () => protectLoop(m, page, n),
      },
      baselines: [
        { label: 'C mprotect', kind: 'c', sample: () => cbench.cbenchMprotect(m, 0, page, C.PROT_NONE, C.PROT_READ | C.PROT_WRITE, n) / n / 2 },
        {
          label: 'native mprotect from JS', kind: 'napi',
          sample: () => nativeProtectLoop(region, page, C.PROT_NONE, C.PROT_READ | C.PROT_WRITE, n),
        },
      ],
      close: () => m.unmap(),
    };
  },
};

/** The syscall-wrapper benchmarks. */
export const syscallBenchmarks: readonly Benchmark[] = [madvisePage, mmapUnmapPage, mmapUnmapBare, mincore1g, mprotectPage];
