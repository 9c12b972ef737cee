/**
 * Arena benchmarks: alloc+free at 64 B, 4 KiB, 64 KiB and 1 MiB beside
 * `Buffer.alloc`, `Buffer.allocUnsafe` and glibc malloc+free; `prefault` of
 * 1 GiB beside C `MADV_POPULATE_WRITE` and first-touch loops; `reset()` of
 * 1 GiB of dirty pages beside C `MADV_DONTNEED`.
 *
 * And the workloads users run, each sample timing the whole
 * workload, garbage collections it causes included: mixed sizes with touch,
 * free half, purge; 64 B blocks replaced at random among 1e3, 1e5 and 1e6
 * live ones; churn of written 1 MiB blocks; allocate-then-reset rounds;
 * purge of 1,000 dirty stretches beside a C loop of one `madvise` per
 * stretch. Baselines: `Buffer.allocUnsafe` and `new ArrayBuffer` (C
 * malloc/free of these workloads would need a loop in native/lab).
 */
import { Arena } from '../arena/arena';
import { mmap } from '../mapping';
import { pageSize } from '../kernel/system';
import type { Baseline, Benchmark, Target } from './harness';
import { timeLoop, timeOnce } from './harness';
import { bigSize } from './syscalls';
import { touchContenders, touchSize } from './pages-suite';
import { cbench, C } from './cnative';
import { native } from '../native/binding';
import { batchedGiveBack } from '../arena/purge';

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
    const drop = (): void => void m.advise('dontneed');
    return {
      subject: { label: 'pagewise', sample: () => { const ns = timeOnce(() => arena.prefault(size)); arena.reset(); return ns / pages; } },
      baselines: [
        { label: 'C MADV_POPULATE_WRITE', kind: 'c', sample: () => { const ns = cbench.cbenchMadvise(m, 0, size, C.MADV_POPULATE_WRITE, 1); drop(); return ns / pages; } },
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
    return {
      subject: { label: 'pagewise', sample: () => { arena.prefault(size); return timeOnce(() => arena.reset()) / pages; } },
      baselines: [
        {
          label: 'C MADV_DONTNEED', kind: 'c',
          sample: () => { m.advise('populate_write'); return cbench.cbenchMadvise(m, 0, size, C.MADV_DONTNEED, 1) / pages; },
        },
      ],
      close: () => { arena.close(); m.unmap(); },
    };
  },
};

/**
 * xorshift32 in [0, 1): the same sequence for every contender (and for the
 * arena's random tests, so a failure replays).
 * @internal
 */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Writes one byte in every page of `v`. */
function touchPages(v: Uint8Array, page: number): void {
  for (let j = 0; j < v.length; j += page) v[j] = 1;
}

const mixed: Benchmark = {
  name: 'arena-mixed',
  group: 'arena',
  title: '30,000 blocks of 16 B-1 MiB (log-uniform), each page touched, then half freed and purge()',
  unit: 'block',
  runs: 3,
  targets: [{ baseline: 'Buffer.allocUnsafe', maxRatio: 0.5 }],
  prepare({ quick }) {
    const n = quick ? 300 : 30_000;
    const page = pageSize();
    const random = rng(0x5eed);
    const sizes = new Float64Array(n);
    for (let i = 0; i < n; i++) sizes[i] = Math.floor(16 * 65536 ** random());
    const arena = new Arena({ reserve: 64 * 2 ** 30 });
    // The same arena with glibc's policy: keeps every freed page, no purge().
    const keeping = new Arena({ reserve: 64 * 2 ** 30, retain: Number.MAX_SAFE_INTEGER, decay: false });
    const node = (make: (size: number) => Uint8Array) => (): number => {
      const live: (Uint8Array | null)[] = new Array(n);
      const ns = timeOnce(() => {
        for (let i = 0; i < n; i++) {
          const v = make(sizes[i]!);
          touchPages(v, page);
          live[i] = v;
        }
        for (let i = 0; i < n; i += 2) live[i] = null;
      });
      live.fill(null);
      return ns / n;
    };
    // One round on an arena: alloc and touch every block, free every other one, purge() if asked.
    // Outside the timing: like glibc, which keeps what the GC freed for the
    // next round, the arena keeps its pages (reset without purging).
    const round = (a: Arena, purge: boolean) => (): number => {
      const live: Uint8Array[] = new Array(n);
      const ns = timeOnce(() => {
        for (let i = 0; i < n; i++) {
          const v = a.alloc(sizes[i]!);
          touchPages(v, page);
          live[i] = v;
        }
        for (let i = 0; i < n; i += 2) a.free(live[i]!);
        if (purge) a.purge();
      });
      a.reset({ keep: true });
      return ns / n;
    };
    return {
      subject: { label: 'pagewise', sample: round(arena, true) },
      baselines: [
        { label: 'Buffer.allocUnsafe', kind: 'node', sample: node((size) => Buffer.allocUnsafe(size)) },
        { label: 'new ArrayBuffer', kind: 'node', sample: node((size) => new Uint8Array(new ArrayBuffer(size))) },
        { label: 'pagewise, keeping all, no purge', kind: 'pagewise', sample: round(keeping, false) },
      ],
      close: () => { arena.close(); keeping.close(); },
      notes: [
        `${n} blocks, ${Math.round(sizes.reduce((a, b) => a + b, 0) / MiB)} MiB in all; Node's buffers are dropped (half at the end), the arena frees half and purges`,
        'between samples the arena is reset({ keep: true }) and Node\'s memory stays with glibc: each reuses what the round before left (after the warm-up rounds)',
        'Mark-Compact counts per contender: the mixed workload of npm run bench:handles',
        'the last row is the arena with glibc\'s policy (keeps every freed page): what is left of the gap is the page faults the default arena pays again for the memory it gave back',
      ],
    };
  },
};

function live64(count: number): Benchmark {
  const text = count >= 1e6 ? '1e6' : count >= 1e5 ? '1e5' : '1e3';
  return {
    name: `arena-64b-live-${text}`,
    group: 'arena',
    title: `replace a random one of ${count.toLocaleString('en-US')} live 64 B blocks (free + alloc + write)`,
    unit: 'replace',
    runs: count >= 1e6 ? 5 : 9,
    ...(count === 1e5 ? { targets: [{ baseline: 'Buffer.allocUnsafe(64 B)', maxRatio: 1 }] } : {}),
    prepare({ quick }) {
      const live = quick ? Math.min(count, 1000) : count;
      const iterations = quick ? 1000 : 200_000;
      const arena = new Arena({ reserve: 4 * 2 ** 30, hugePages: false });
      const views: Uint8Array[] = new Array(live);
      for (let i = 0; i < live; i++) views[i] = arena.alloc(64);
      const bufs: Uint8Array[] = new Array(live);
      for (let i = 0; i < live; i++) bufs[i] = Buffer.allocUnsafe(64);
      const abs: Uint8Array[] = new Array(live);
      for (let i = 0; i < live; i++) abs[i] = new Uint8Array(new ArrayBuffer(64));
      const order = new Uint32Array(iterations);
      const random = rng(7);
      for (let i = 0; i < iterations; i++) order[i] = Math.floor(random() * live);
      return {
        subject: {
          label: 'pagewise',
          sample: () => timeOnce(() => {
            for (let i = 0; i < iterations; i++) {
              const k = order[i]!;
              arena.free(views[k]!);
              const v = arena.alloc(64);
              v[0] = i;
              views[k] = v;
            }
          }) / iterations,
        },
        baselines: [
          {
            label: 'Buffer.allocUnsafe(64 B)', kind: 'node',
            sample: () => timeOnce(() => {
              for (let i = 0; i < iterations; i++) {
                const v = Buffer.allocUnsafe(64);
                v[0] = i;
                bufs[order[i]!] = v;
              }
            }) / iterations,
          },
          {
            label: 'new ArrayBuffer(64)', kind: 'node',
            sample: () => timeOnce(() => {
              for (let i = 0; i < iterations; i++) {
                const v = new Uint8Array(new ArrayBuffer(64));
                v[0] = i;
                abs[order[i]!] = v;
              }
            }) / iterations,
          },
        ],
        close: () => arena.close(),
      };
    },
  };
}

const churn1m: Benchmark = {
  name: 'arena-churn-1m',
  group: 'arena',
  title: 'alloc 1 MiB, write every page, free (freed pages are retained and reused)',
  unit: 'alloc+write+free',
  targets: [{ baseline: 'Buffer.allocUnsafe(1 MiB)', maxRatio: 1 }],
  prepare({ quick }) {
    const n = quick ? 4 : 300;
    const page = pageSize();
    const arena = new Arena({ reserve: 256 * MiB });
    const dontneed = new Arena({ reserve: 256 * MiB, retain: 0 });
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => { const v = arena.alloc(MiB); touchPages(v, page); arena.free(v); }) },
      baselines: [
        { label: 'Buffer.allocUnsafe(1 MiB)', kind: 'node', sample: () => timeLoop(n, () => touchPages(Buffer.allocUnsafe(MiB), page)) },
        { label: 'new ArrayBuffer(1 MiB)', kind: 'node', sample: () => timeLoop(n, () => touchPages(new Uint8Array(new ArrayBuffer(MiB)), page)) },
        {
          label: 'pagewise, retain: 0 (purged on free)', kind: 'pagewise',
          sample: () => timeLoop(n, () => { const v = dontneed.alloc(MiB); touchPages(v, page); dontneed.free(v); }),
        },
      ],
      close: () => { arena.close(); dontneed.close(); },
      notes: ['the last row is the arena itself without retention (every free gives the pages back), for comparison'],
    };
  },
};

const resetRounds: Benchmark = {
  name: 'arena-reset-rounds',
  group: 'arena',
  title: 'one round: 1,000 blocks of 64 KiB, every page written, then reset({ keep: true })',
  unit: 'round',
  runs: 9,
  prepare({ quick }) {
    const n = quick ? 10 : 1000;
    const page = pageSize();
    const keep = new Arena({ reserve: 2 ** 30 });
    const purge = new Arena({ reserve: 2 ** 30 });
    const round = (a: Arena, options?: { keep: boolean }): number => timeOnce(() => {
      for (let i = 0; i < n; i++) touchPages(a.alloc(64 * 1024), page);
      a.reset(options);
    });
    const node = (make: () => Uint8Array) => (): number => {
      const live: Uint8Array[] = new Array(n);
      return timeOnce(() => {
        for (let i = 0; i < n; i++) {
          const v = make();
          touchPages(v, page);
          live[i] = v;
        }
      });
    };
    return {
      subject: { label: 'pagewise', sample: () => round(keep, { keep: true }) },
      baselines: [
        { label: 'Buffer.allocUnsafe(64 KiB)', kind: 'node', sample: node(() => Buffer.allocUnsafe(64 * 1024)) },
        { label: 'new ArrayBuffer(64 KiB)', kind: 'node', sample: node(() => new Uint8Array(new ArrayBuffer(64 * 1024))) },
        { label: 'pagewise, reset() (purges)', kind: 'node', sample: () => round(purge) },
      ],
      close: () => { keep.close(); purge.close(); },
      notes: ['Node rounds drop their buffers for the GC; the last row is the arena with a purging reset(), for comparison'],
    };
  },
};

const purgeStretches: Benchmark = {
  name: 'arena-purge-1000',
  group: 'arena',
  title: 'purge() of 1,000 dirty free stretches of 2 pages, written from JS, between live blocks',
  unit: 'stretch',
  runs: 9,
  targets: [{ baseline: 'C madvise per stretch', maxRatio: 0.1 }, { baseline: 'one process_madvise of the same stretches', maxRatio: 1.2 }],
  prepare({ quick }) {
    const stretches = quick ? 20 : 1000;
    const page = pageSize();
    const arena = new Arena({ reserve: 2 ** 30, hugePages: false, decay: false, retain: 2 ** 40 });
    const live: Uint8Array[] = [];
    let holes: Uint8Array[] = [];
    for (let i = 0; i < stretches; i++) {
      holes.push(arena.alloc(2 * page));
      live.push(arena.alloc(page));
    }
    for (const v of live) v.fill(2);
    const m = mmap(3 * page * stretches, { noReserve: true });
    m.advise('nohugepage');
    const view = m.view();
    // The process_madvise baseline: a region of its own, RW, no THP.
    const pm = native.mmap(3 * page * stretches, C.PROT_READ! | C.PROT_WRITE!, C.MAP_PRIVATE! | C.MAP_ANONYMOUS! | C.MAP_NORESERVE!, -1, 0, 0n, 0);
    native.madvise(pm, 0, 3 * page * stretches, C.MADV_NOHUGEPAGE!);
    const pmView = new Uint8Array(native.regionBuffer(pm, 0, 3 * page * stretches));
    const pmRegions = new Array<unknown>(stretches).fill(pm);
    const pmOffs = Array.from({ length: stretches }, (_, i) => 3 * page * i);
    const pmLens = new Array<number>(stretches).fill(2 * page);
    const batched = batchedGiveBack(C.MADV_DONTNEED!);
    const extra: Baseline[] = batched
      ? [{
          label: 'one process_madvise of the same stretches', kind: 'c',
          sample: () => {
            for (let i = 0; i < stretches; i++) pmView.fill(1, 3 * page * i, 3 * page * i + 2 * page);
            return timeOnce(() => void native.processMadviseOwn(pmRegions, pmOffs, pmLens, C.MADV_DONTNEED!)) / stretches;
          },
        }]
      : [];
    for (let i = 0; i < stretches; i++) pmView.fill(2, 3 * page * i + 2 * page, 3 * page * (i + 1));
    return {
      subject: {
        label: 'pagewise',
        sample: () => {
          // Outside the timing: the holes are freed dirty (written from JS).
          for (const v of holes.splice(0)) arena.free(v);
          for (let i = 0; i < stretches; i++) holes.push(arena.alloc(2 * page));
          for (const v of holes) v.fill(1);
          for (const v of holes) arena.free(v);
          const ns = timeOnce(() => arena.purge());
          holes = [];
          for (let i = 0; i < stretches; i++) holes.push(arena.alloc(2 * page));
          return ns / stretches;
        },
      },
      baselines: [
        {
          label: 'C madvise per stretch', kind: 'c',
          sample: () => {
            for (let i = 0; i < stretches; i++) view.fill(1, 3 * page * i, 3 * page * i + 2 * page);
            let ns = 0;
            for (let i = 0; i < stretches; i++) ns += cbench.cbenchMadvise(m, 3 * page * i, 2 * page, C.MADV_DONTNEED, 1);
            return ns / stretches;
          },
        },
        ...extra,
      ],
      close: () => { arena.close(); m.unmap(); native.munmap(pm); },
      notes: [
        'the C figure times only the madvise calls (one per stretch); pagewise times purge() whole: a walk of the free runs and the give-back (one process_madvise where the kernel allows it, else one madvise per stretch)',
        'the process_madvise row is the physical limit where the kernel has it (6.13+): the same layout (2 dirty pages, 1 live page) in a region of its own, written from JS, given back with one process_madvise of every stretch (the iovec arrays built outside the timing)',
      ],
    };
  },
};

/**
 * The cost of guard pages (`guardPages: true`, issue 18): alloc+free of a
 * 1 MiB block in an arena with a guard page after each block (one
 * `MADV_GUARD_INSTALL` on alloc, one `MADV_GUARD_REMOVE` on free) beside the
 * same arena without guards. Skipped where the kernel has no guard regions
 * (Linux 6.13+).
 */
const guard1m: Benchmark = {
  name: 'arena-guard-1m',
  group: 'arena',
  title: 'arena.alloc(1 MiB) + arena.free(view) with guardPages: true',
  unit: 'alloc+free',
  prepare({ quick }) {
    const n = quick ? 2 : 300;
    const guarded = new Arena({ reserve: 64 * MiB, hugePages: false, guardPages: true });
    const plain = new Arena({ reserve: 64 * MiB, hugePages: false });
    guarded.free(guarded.alloc(MiB));
    plain.free(plain.alloc(MiB));
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => guarded.free(guarded.alloc(MiB))) },
      baselines: [
        { label: 'pagewise, no guard pages', kind: 'node', sample: () => timeLoop(n, () => plain.free(plain.alloc(MiB))) },
        { label: 'C malloc+free(1 MiB)', kind: 'c', sample: () => cbench.cbenchMallocFree(MiB, n) / n },
      ],
      close: () => { guarded.close(); plain.close(); },
      notes: ['the ratio to "pagewise, no guard pages" is the cost of the guard: two madvise calls per block'],
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
  mixed,
  live64(1e3),
  live64(1e5),
  live64(1e6),
  churn1m,
  resetRounds,
  purgeStretches,
  guard1m,
];
