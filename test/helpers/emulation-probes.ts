/**
 * The probes of {@link underEmulation} (./emulation.ts): each does the real
 * thing on a fresh mapping and checks the number the kernel guarantees.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { getrusage, hugetlbPools, mmap, pageSize, readSmaps, readStat, type Mapping } from '../../lib/index';
import { residency } from '../../lib/measure/residency';
import { runCow } from '../../lib/experiments/cow';
import { runChild } from './child';
import { rusageRaw } from '../../lib/process/rusage';
import { native } from '../../lib/native/binding';

const THREAD = native.constants.RUSAGE_THREAD;
import type { Probe } from './emulation';

const PAGES = 4;

export function detectQemu(): { qemu: boolean; detail: string } {
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

export function probeSmaps(): Probe {
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

export function probeDontneed(): Probe {
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

export function probeRusage(): Probe {
  // The fewest of 5 trials, each on fresh pages: V8 can take a fault of its
  // own on this thread inside the window (a scavenge, a stack guard), never
  // one fewer. The reads go through the allocation-free path.
  let fewest = Infinity;
  for (let trial = 0; trial < 5 && fewest !== PAGES - 1; trial++) fewest = Math.min(fewest, rusageOnce());
  return { ok: fewest === PAGES - 1, detail: `RUSAGE_THREAD minor faults +${fewest} after first writes to ${PAGES - 1} pages (fewest of up to 5 trials)` };
}

function rusageOnce(): number {
  const page = pageSize();
  const m = fresh(0);
  try {
    const v = m.view();
    // Warm the loop and getrusage first (their own first runs fault too);
    // the last page is touched here and left out of the count.
    v[(PAGES - 1) * page] = 1;
    for (let round = 0; round < 3; round++) rusageRaw(THREAD);
    const before = rusageRaw(THREAD)[0]!;
    for (let i = 0; i < PAGES - 1; i++) v[i * page] = 1;
    return rusageRaw(THREAD)[0]! - before;
  } finally {
    m.unmap();
  }
}

export function probeStat(): Probe {
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

export function probeMincore(): Probe {
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

export function probePagemap(): Probe {
  const m = fresh(1);
  try {
    const r = residency(m, 0, PAGES * pageSize(), { source: 'pagemap' });
    if (r.source !== 'pagemap') return { ok: false, detail: `pagemap unavailable: ${r.fallback}` };
    return { ok: r.present === 1, detail: `pagemap shows ${r.present} present of ${PAGES} pages after writing 1` };
  } finally {
    m.unmap();
  }
}

export function probePopulateWrite(): Probe {
  const m = fresh(0);
  try {
    m.advise('populate_write');
    const n = m.residentPages();
    return { ok: n === PAGES, detail: `MADV_POPULATE_WRITE left ${n} of ${PAGES} pages resident` };
  } finally {
    m.unmap();
  }
}

export function probeMapPopulate(): Probe {
  const m = mmap(PAGES * pageSize(), { populate: true });
  try {
    const n = m.residentPages();
    return { ok: n === PAGES, detail: `MAP_POPULATE left ${n} of ${PAGES} pages resident` };
  } finally {
    m.unmap();
  }
}

export function probeRusageLong(): Probe {
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

export function probeAddressSpace(): Probe {
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

export function probeAdviceFlags(): Probe {
  const m = fresh(1);
  try {
    const e = readSmaps().find((x) => x.start <= m.address && m.address < x.end);
    const flags = e?.vmFlags ?? [];
    return { ok: flags.includes('nh'), detail: `smaps VmFlags after MADV_NOHUGEPAGE: ${flags.join(' ') || 'none'} (want nh)` };
  } finally {
    m.unmap();
  }
}

export function probeMlock2(): Probe {
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

export function probeHugetlb(): Probe {
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

export function probePagemapScan(): Probe {
  const m = fresh(1);
  try {
    const r = residency(m, 0, PAGES * pageSize(), { source: 'pagemap_scan' });
    if (r.source === 'pagemap_scan') return { ok: true, detail: 'PAGEMAP_SCAN answered' };
    return { ok: !/ENOSYS/.test(r.fallback ?? ''), detail: `PAGEMAP_SCAN: ${r.fallback}` };
  } finally {
    m.unmap();
  }
}

export function probeForkChild(): Probe {
  const r = runCow(8, 4);
  return {
    ok: r.childReadFaults === 0 && r.childWriteFaults === 4,
    detail: `forked child: ${r.childReadFaults} faults reading 8 shared pages (want 0), ${r.childWriteFaults} writing 4 (want 4)`,
  };
}

export function probeMincoreProtNone(): Probe {
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

export function probeBrk(): Probe {
  const r = runChild(`
    const start = pw.programBreak();
    let code = 'moved';
    try { pw.unsafe.brk(1n); } catch (e) { code = e.code; }
    console.log(code + ' ' + (pw.programBreak() === start ? 'unchanged' : 'changed'));
  `);
  const got = r.stdout.trim();
  return { ok: got === 'ENOMEM unchanged', detail: `in a child, brk(1) gave: ${got || `status ${r.status}, ${r.stderr.split('\n')[0]}`}` };
}

export function safely(name: string, fn: () => Probe): Probe {
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
export function retried(fn: () => Probe, tries = 3): () => Probe {
  return () => {
    let last = fn();
    for (let i = 1; i < tries && !last.ok; i++) last = fn();
    return last;
  };
}
