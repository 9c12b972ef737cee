/**
 * Run-time probes for what an emulator (qemu-user, used for the arm64 runs in
 * scripts/arm64-test.sh) cannot measure. Each probe does the real thing on a
 * fresh mapping and checks the number the kernel guarantees; a test guards
 * only the assertion that depends on it, and prints why it skipped it.
 * Natively every probe passes (test/platform-binary.test.ts asserts it; only
 * `perf` may legitimately fail natively), so nothing is skipped: skips follow
 * from measurements, never from "we are under qemu".
 *
 * Known qemu-user 7.2 behaviour the probes catch (DESIGN.md, "Things that
 * will bite"): /proc/self/stat is the emulator's; every madvise is taken as a
 * hint and dropped (POPULATE_WRITE, NOHUGEPAGE/HUGEPAGE: VmFlags unchanged);
 * MAP_POPULATE is dropped; mlock2 is ENOSYS; PAGEMAP_SCAN is ENOSYS; mincore
 * of a PROT_NONE range is ENOMEM; brk is emulated; /proc/self/maps is the
 * emulator's view while VmSize and the resource limits count the emulator
 * too; a forked child's fault counts include the emulator's own. With a guest
 * page larger than the host's (QEMU_PAGESIZE=16384 on 4K), mincore, pagemap
 * and smaps answer per host page, and mincore writes one byte per host page:
 * past the guest's vector, so large mincore calls there corrupt memory.
 */
import { perfReady, perfUnavailable } from '../../lib/measure/faults';
import {
  detectQemu, probeAddressSpace, probeAdviceFlags, probeBrk, probeDontneed, probeForkChild, probeHugetlb, probeMapPopulate, probeMincore,
  probeMincoreProtNone, probeMlock2, probePagemap, probePagemapScan, probePopulateWrite, probeRusage, probeRusageLong, probeSmaps, probeStat,
  retried, safely,
} from './emulation-probes';

/** One probe's answer: `ok` means the measurement can be asserted exactly. */
export interface Probe {
  ok: boolean;
  /** What was measured, e.g. "smaps Rss 0 kB after writing 4 pages of 16 kB". */
  detail: string;
}

/** The probes, each computed once per process on first read. */
export interface Emulation {
  /** The process runs under an emulator: the running kernel's arch differs from the process's. */
  qemu: boolean;
  /** How `qemu` was decided. */
  qemuDetail: string;
  /** smaps `Rss` of a mapping grows by exactly the pages written. */
  smapsRss: Probe;
  /** `MADV_DONTNEED` on private anonymous memory: reads back zero and mincore shows it gone. */
  dontneedZeroes: Probe;
  /** `getrusage(RUSAGE_THREAD)` minor faults grow by exactly the pages first written. */
  rusageFaults: Probe;
  /** `/proc/self/stat` minor faults (field 10) grow by at least the pages first written. */
  procStatFaults: Probe;
  /** `mincore` counts exactly the pages written, at this page size. */
  mincore: Probe;
  /** `/proc/self/pagemap` present bits count exactly the pages written, at this page size. */
  pagemap: Probe;
  /** `MADV_POPULATE_WRITE` makes every page resident (mincore); not ok where the kernel lacks it too. */
  populateWrite: Probe;
  /** `mmap(MAP_POPULATE)` makes every page resident (mincore). */
  mapPopulate: Probe;
  /** `RUSAGE_THREAD` counts exactly one fault per first write over 100 pages (a longer run than `rusageFaults`: emulators fault for their own code translation). */
  rusageFaultsLong: Probe;
  /**
   * The kernel's accounting of this process is the guest's alone: `/proc/self/status`
   * VmSize equals the sum of the `/proc/self/maps` lines. Under qemu-user the maps
   * are the guest's view while VmSize, RLIMIT_AS/RLIMIT_DATA and vm.max_map_count
   * also count the emulator's own memory (and a child under a tight limit can spin
   * in the emulator, deaf to signals).
   */
  ownAddressSpace: Probe;
  /** `MADV_NOHUGEPAGE` reaches the kernel: smaps VmFlags of the mapping show `nh` (qemu 7.2 takes every madvise as a hint and drops it). */
  adviceFlags: Probe;
  /** The `mlock2` system call exists (qemu 7.2 answers ENOSYS; Linux has it since 4.4). */
  mlock2: Probe;
  /**
   * `mmap(MAP_HUGETLB)` of one default-size huge page is not refused with EINVAL:
   * the kernel answers success or ENOMEM; an emulator that places the mapping
   * itself, at an address not aligned to the huge page, gets EINVAL.
   */
  hugetlb: Probe;
  /** The PAGEMAP_SCAN ioctl reaches the kernel: not ENOSYS (qemu-user's answer to an ioctl it does not know; an old kernel answers ENOTTY). */
  pagemapScan: Probe;
  /**
   * A forked child (native fork probe) reading 8 shared pages takes 0 faults and
   * writing 4 of them exactly 4: under qemu-user the emulator's own first writes
   * in the child (its translation state, copied on write) are counted too. This
   * is where an emulator's own faults on a thread show every time; in a
   * long-lived process they come and go (+1, +2 on a 32-page loop), so exact
   * RUSAGE_THREAD counts are guarded by this probe as well.
   */
  forkChildFaults: Probe;
  /**
   * perf software fault counters open for this thread (perf_event_open; qemu-user
   * 7.2 lacks the system call, and natively kernel.perf_event_paranoid or a
   * seccomp profile may forbid it: not asserted natively).
   */
  perf: Probe;
  /** mincore over a PROT_NONE mapping answers (0 resident); qemu-user 7.2 wants the range readable and answers ENOMEM. */
  mincoreProtNone: Probe;
  /**
   * The break is the kernel's: in a child, brk(1) fails with ENOMEM and leaves
   * the break where it was (qemu-user emulates brk itself and, at a guest page
   * larger than the host's, moves it).
   */
  brk: Probe;
}

/** The names of the probes a test can depend on. */
export type ProbeName = Exclude<keyof Emulation, 'qemu' | 'qemuDetail'>;

let cached: Emulation | undefined;

/** Each probe: its name in messages and what it does. */
const probes: Record<ProbeName, [string, () => Probe]> = {
  smapsRss: ['smaps', probeSmaps],
  dontneedZeroes: ['dontneed', probeDontneed],
  rusageFaults: ['rusage', probeRusage],
  procStatFaults: ['stat', retried(probeStat)],
  mincore: ['mincore', probeMincore],
  pagemap: ['pagemap', probePagemap],
  populateWrite: ['populate_write', probePopulateWrite],
  mapPopulate: ['MAP_POPULATE', probeMapPopulate],
  rusageFaultsLong: ['rusage (100 pages)', retried(probeRusageLong)],
  ownAddressSpace: ['address space', probeAddressSpace],
  adviceFlags: ['MADV_NOHUGEPAGE VmFlags', probeAdviceFlags],
  mlock2: ['mlock2', probeMlock2],
  hugetlb: ['MAP_HUGETLB', probeHugetlb],
  pagemapScan: ['PAGEMAP_SCAN', probePagemapScan],
  forkChildFaults: ['fork', probeForkChild],
  mincoreProtNone: ['mincore PROT_NONE', probeMincoreProtNone],
  perf: ['perf', () => (perfReady() ? { ok: true, detail: 'perf_event_open works' } : { ok: false, detail: perfUnavailable() })],
  brk: ['brk', probeBrk],
};

/**
 * The probes' answers. Each probe runs once per process, the first time it
 * is read (a few pages each; `brk` spawns a child), so a test file pays only
 * for the probes it uses.
 */
export function underEmulation(): Emulation {
  if (!cached) {
    const q = detectQemu();
    const e = { qemu: q.qemu, qemuDetail: q.detail } as Emulation;
    for (const [name, [label, fn]] of Object.entries(probes) as [ProbeName, [string, () => Probe]][]) {
      let answer: Probe | undefined;
      Object.defineProperty(e, name, { enumerable: true, get: () => (answer ??= safely(label, fn)) });
    }
    cached = e;
  }
  return cached;
}

/**
 * Why `probe` fails here (a string to print), or `false` when the
 * measurement can be asserted. Use with vitest's `it.skipIf(...)` when a
 * whole test is the measurement.
 */
export function cannotMeasure(...probes: ProbeName[]): string | false {
  const e = underEmulation();
  const failing = probes.filter((p) => !e[p].ok);
  if (!failing.length) return false;
  return `${failing.map((p) => `${p}: ${e[p].detail}`).join('; ')}${e.qemu ? ` (emulated: ${e.qemuDetail})` : ''}`;
}

/**
 * Runs `assertion` when every probe in `probes` passes; otherwise prints why
 * it was skipped and returns `false`. Guards only the one assertion: the rest
 * of the test still runs.
 */
export function ifMeasurable(probes: ProbeName | ProbeName[], what: string, assertion: () => void): boolean {
  const why = cannotMeasure(...(Array.isArray(probes) ? probes : [probes]));
  if (why) {
    console.warn(`[skipped assertion] ${what}: ${why}`);
    return false;
  }
  assertion();
  return true;
}

/**
 * For `it.skipIf(...)` when the whole test is the measurement (for instance a
 * child process whose resource limit would also bind the emulator): `true`,
 * with the reason printed, when a probe in `probes` fails.
 */
export function unmeasurable(probes: ProbeName | ProbeName[], what: string): boolean {
  const why = cannotMeasure(...(Array.isArray(probes) ? probes : [probes]));
  if (why) console.warn(`[skipped test] ${what}: ${why}`);
  return why !== false;
}
