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
import * as fs from 'node:fs';
import * as os from 'node:os';
import { getrusage, hugetlbPools, mmap, pageSize, readSmaps, readStat, type Mapping } from '../../lib/index';
import { residency } from '../../lib/measure/residency';
import { runCow } from '../../lib/experiments/cow';
import { perfReady, perfUnavailable } from '../../lib/measure/faults';
import { runChild } from './child';

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

const PAGES = 4;

function detectQemu(): { qemu: boolean; detail: string } {
  const machine = os.machine();
  try {
    // The real kernel's arch: qemu-user fakes uname(2), not this sysctl.
    const kernel = fs.readFileSync('/proc/sys/kernel/arch', 'utf8').trim();
    return { qemu: kernel !== machine, detail: `kernel arch ${kernel}, process arch ${machine}` };
  } catch {
    const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const x86 = /^vendor_id\s*:/m.test(cpu);
    const qemu = (machine === 'aarch64') === x86;
    return { qemu, detail: `process arch ${machine}, /proc/cpuinfo ${x86 ? 'x86' : 'not x86'}` };
  }
}

/** A fresh private anonymous mapping of `PAGES` pages without THP, written on pages 0..written-1. */
function fresh(written: number, fn?: (m: Mapping) => void): Mapping {
  const page = pageSize();
  const m = mmap(PAGES * page);
  try {
    m.advise('nohugepage');
  } catch {
    // a kernel without THP: nothing to turn off
  }
  if (fn) fn(m);
  const v = m.view();
  for (let i = 0; i < written; i++) v[i * page] = 1;
  return m;
}

/** smaps `Rss` of the mapping, in bytes (the parser converts kB). */
function smapsRss(m: Mapping): number | null {
  const e = readSmaps().find((s) => s.start === m.address);
  return e ? (e.fields.Rss ?? null) : null;
}

function probeSmaps(): Probe {
  const page = pageSize();
  const m = fresh(PAGES);
  try {
    const got = smapsRss(m);
    const want = PAGES * page;
    return { ok: got === want, detail: `smaps Rss ${got} bytes after writing ${PAGES} pages of ${page} bytes (want ${want})` };
  } finally {
    m.unmap();
  }
}

function probeDontneed(): Probe {
  const page = pageSize();
  const m = fresh(PAGES);
  try {
    m.view().fill(0xa5);
    m.advise('dontneed');
    const resident = m.residentPages();
    const v = m.view();
    let nonzero = 0;
    for (let i = 0; i < PAGES; i++) if (v[i * page] !== 0) nonzero++;
    return {
      ok: nonzero === 0,
      detail: `after MADV_DONTNEED ${nonzero} of ${PAGES} pages still hold the old bytes (${resident} resident by mincore)`,
    };
  } finally {
    m.unmap();
  }
}

function probeRusage(): Probe {
  const page = pageSize();
  const m = fresh(0);
  try {
    const v = m.view();
    // Warm the loop and getrusage first (their own first runs fault too);
    // the last page is touched here and left out of the count.
    v[(PAGES - 1) * page] = 1;
    for (let round = 0; round < 3; round++) getrusage('thread');
    for (let i = PAGES - 1; i < PAGES; i++) v[i * page] = 1;
    const before = getrusage('thread').minorFaults;
    for (let i = 0; i < PAGES - 1; i++) v[i * page] = 1;
    const d = getrusage('thread').minorFaults - before;
    return { ok: d === PAGES - 1, detail: `RUSAGE_THREAD minor faults +${d} after first writes to ${PAGES - 1} pages` };
  } finally {
    m.unmap();
  }
}

function probeStat(): Probe {
  const m = fresh(0);
  try {
    const v = m.view();
    readStat();
    const before = readStat().minflt;
    for (let i = 0; i < PAGES; i++) v[i * pageSize()] = 1;
    const d = readStat().minflt - before;
    return { ok: d >= PAGES, detail: `/proc/self/stat minflt +${d} after first writes to ${PAGES} pages` };
  } finally {
    m.unmap();
  }
}

function probeMincore(): Probe {
  const page = pageSize();
  const m = fresh(0);
  try {
    // The last byte of page 1: a guest page made of several host pages shows here.
    m.view()[2 * page - 1] = 1;
    const n = m.residentPages();
    const vec = m.residencyVector();
    return {
      ok: n === 1 && vec[1] === 1 && vec[0] === 0,
      detail: `mincore counts ${n} resident of ${PAGES} pages (vector ${Array.from(vec).join('')}) after writing the last byte of page 1`,
    };
  } finally {
    m.unmap();
  }
}

function probePagemap(): Probe {
  const m = fresh(1);
  try {
    const r = residency(m, 0, PAGES * pageSize(), { source: 'pagemap' });
    if (r.source !== 'pagemap') return { ok: false, detail: `pagemap unavailable: ${r.fallback}` };
    return { ok: r.present === 1, detail: `pagemap shows ${r.present} present of ${PAGES} pages after writing 1` };
  } finally {
    m.unmap();
  }
}

function probePopulateWrite(): Probe {
  const m = fresh(0);
  try {
    m.advise('populate_write');
    const n = m.residentPages();
    return { ok: n === PAGES, detail: `MADV_POPULATE_WRITE left ${n} of ${PAGES} pages resident` };
  } finally {
    m.unmap();
  }
}

function probeMapPopulate(): Probe {
  const m = mmap(PAGES * pageSize(), { populate: true });
  try {
    const n = m.residentPages();
    return { ok: n === PAGES, detail: `MAP_POPULATE left ${n} of ${PAGES} pages resident` };
  } finally {
    m.unmap();
  }
}

function probeRusageLong(): Probe {
  // Run twice, keep the second: the first run also pays for compiling this loop.
  probeRusageLongOnce();
  return probeRusageLongOnce();
}

function probeRusageLongOnce(): Probe {
  const page = pageSize();
  const k = 100;
  const m = mmap((k + 1) * page, { noReserve: true });
  try {
    m.advise('nohugepage');
    const v = m.view();
    v[k * page] = 1;
    for (let round = 0; round < 3; round++) getrusage('thread');
    const before = getrusage('thread').minorFaults;
    for (let i = 0; i < k; i++) v[i * page] = 1;
    const d = getrusage('thread').minorFaults - before;
    return { ok: d === k, detail: `RUSAGE_THREAD minor faults +${d} after first writes to ${k} pages` };
  } finally {
    m.unmap();
  }
}

function probeAddressSpace(): Probe {
  let detail = '';
  // Another thread (a GC helper) may map between the two reads: three tries.
  for (let attempt = 0; attempt < 3; attempt++) {
    const vmKb = Number(/^VmSize:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1]);
    let mapsKb = 0n;
    for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      // [vsyscall] is a gate area, not a VMA: the kernel does not count it.
      if (!line || line.endsWith('[vsyscall]')) continue;
      const [lo, hi] = line.slice(0, line.indexOf(' ')).split('-');
      mapsKb += (BigInt(`0x${hi}`) - BigInt(`0x${lo}`)) / 1024n;
    }
    detail = `/proc/self/status VmSize ${vmKb} kB, /proc/self/maps adds up to ${mapsKb} kB`;
    if (BigInt(vmKb) === mapsKb) return { ok: true, detail };
  }
  return { ok: false, detail };
}

function probeAdviceFlags(): Probe {
  const m = fresh(1);
  try {
    const e = readSmaps().find((x) => x.start <= m.address && m.address < x.end);
    const flags = e?.vmFlags ?? [];
    return { ok: flags.includes('nh'), detail: `smaps VmFlags after MADV_NOHUGEPAGE: ${flags.join(' ') || 'none'} (want nh)` };
  } finally {
    m.unmap();
  }
}

function probeMlock2(): Probe {
  const m = fresh(0);
  try {
    m.lock({ onFault: true }, 0, pageSize());
    m.unlock(0, pageSize());
    return { ok: true, detail: 'mlock2(MLOCK_ONFAULT) of one page succeeded' };
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A limit (ENOMEM, EPERM) still shows the system call is there.
    return { ok: code !== 'ENOSYS', detail: `mlock2(MLOCK_ONFAULT) of one page failed with ${code}` };
  } finally {
    m.unmap();
  }
}

function probeHugetlb(): Probe {
  const size = hugetlbPools()[0]?.size;
  if (size === undefined) return { ok: true, detail: 'no hugetlbfs pools' };
  try {
    mmap(size, { hugePages: true, hugePageSize: size }).unmap();
    return { ok: true, detail: `MAP_HUGETLB of ${size} bytes succeeded` };
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { ok: code !== 'EINVAL', detail: `MAP_HUGETLB of ${size} bytes failed with ${code}` };
  }
}

function probePagemapScan(): Probe {
  const m = fresh(1);
  try {
    const r = residency(m, 0, PAGES * pageSize(), { source: 'pagemap_scan' });
    if (r.source === 'pagemap_scan') return { ok: true, detail: 'PAGEMAP_SCAN answered' };
    return { ok: !/ENOSYS/.test(r.fallback ?? ''), detail: `PAGEMAP_SCAN: ${r.fallback}` };
  } finally {
    m.unmap();
  }
}

function probeForkChild(): Probe {
  const r = runCow(8, 4);
  return {
    ok: r.childReadFaults === 0 && r.childWriteFaults === 4,
    detail: `forked child: ${r.childReadFaults} faults reading 8 shared pages (want 0), ${r.childWriteFaults} writing 4 (want 4)`,
  };
}

function probeMincoreProtNone(): Probe {
  const m = mmap(PAGES * pageSize(), { prot: 'none' });
  try {
    const n = m.residentPages();
    return { ok: n === 0, detail: `mincore of a PROT_NONE mapping: ${n} resident` };
  } catch (err) {
    return { ok: false, detail: `mincore of a PROT_NONE mapping failed with ${(err as { code?: string }).code}` };
  } finally {
    m.unmap();
  }
}

function probeBrk(): Probe {
  const r = runChild(`
    const start = pw.programBreak();
    let code = 'moved';
    try { pw.unsafe.brk(1n); } catch (e) { code = e.code; }
    console.log(code + ' ' + (pw.programBreak() === start ? 'unchanged' : 'changed'));
  `);
  const got = r.stdout.trim();
  return { ok: got === 'ENOMEM unchanged', detail: `in a child, brk(1) gave: ${got || `status ${r.status}, ${r.stderr.split('\n')[0]}`}` };
}

function safely(name: string, fn: () => Probe): Probe {
  try {
    return fn();
  } catch (err) {
    return { ok: false, detail: `${name} probe threw ${(err as Error).message}` };
  }
}

/**
 * Fault counts of this thread or process can pick up a stray fault of V8's
 * own (a fresh page of its heap, a helper thread): such a probe is tried up
 * to three times and is exact if any try is. An emulator that counts faults
 * its own way is never exact, however often it is asked.
 */
function retried(fn: () => Probe, tries = 3): () => Probe {
  return () => {
    let last = fn();
    for (let i = 1; i < tries && !last.ok; i++) last = fn();
    return last;
  };
}

let cached: Emulation | undefined;

/** Each probe: its name in messages and what it does. */
const probes: Record<ProbeName, [string, () => Probe]> = {
  smapsRss: ['smaps', probeSmaps],
  dontneedZeroes: ['dontneed', probeDontneed],
  rusageFaults: ['rusage', retried(probeRusage)],
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
