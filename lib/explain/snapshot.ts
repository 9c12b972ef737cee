/**
 * One snapshot: smaps read once (kept descriptor), smaps_rollup right after,
 * VmPTE from status, the threads' stack pointers, glibc heap headers; then
 * the attribution. For the calling process the anonymous pool is split with
 * this process's runtime statistics.
 * @internal
 */
import { performance } from 'node:perf_hooks';
import { parseSmapsRollup } from '../kernel/smaps-rollup';
import { pageSize } from '../kernel/system';
import { attribute } from './attribute';
import { elfLoads } from './elf';
import { entriesOfScan, parseSmapsBytes } from './smaps-fast';
import { ProcReader } from '../kernel/reader';
import { native } from '../native/binding';
import { noSuchProcess } from '../errors';
import { guardPageCount } from '../kernel/pagemap-fd';
import { ksmStat } from '../kernel/ksm';
import { kernelHas } from '../kernel/features';
import type { SmapsEntry } from '../kernel/smaps';
import type { ExplainSnapshot, ExplainVma, RuntimeStats } from './types';

/** Chunk headers read (or pages tried as one) per snapshot at most, one pread each: bounds the cost where a process holds many large chunks or much other anonymous memory. */
const MALLOC_HEADER_BUDGET = 20_000;

/** `VmPTE:` of status text in bytes, or null. */
function vmPte(status: string): number | null {
  const m = /^VmPTE:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/** Sets each row's guardPages from the sorted guard ranges (each within one VMA: guards never span two). */
function guardsPerVma(vmas: ExplainVma[], guards: readonly bigint[], page: number): void {
  let g = 0;
  for (const v of vmas) {
    let bytes = 0n;
    while (g + 1 < guards.length && guards[g]! < v.end) {
      const s = guards[g]! > v.start ? guards[g]! : v.start;
      const e = guards[g + 1]! < v.end ? guards[g + 1]! : v.end;
      if (e > s) bytes += e - s;
      if (guards[g + 1]! > v.end) break; // continues into the next VMA
      g += 2;
    }
    v.guardPages = Number(bytes / BigInt(page));
  }
}

/**
 * Guard-page ranges of the process (null where the kernel cannot tell). Where
 * smaps flags the VMAs guard pages were installed in (VmFlags `gu`), one
 * PAGEMAP_SCAN per run of adjacent flagged VMAs, and none when no VMA is
 * flagged; elsewhere one scan over all the VMAs. The gate area, above user
 * space, is left out.
 */
function guardScan(reader: ProcReader, entries: readonly SmapsEntry[]): bigint[] | null {
  const user = (e: SmapsEntry): boolean => e.pathname !== '[vsyscall]';
  let first = 0;
  let last = entries.length - 1;
  while (first <= last && !user(entries[first]!)) first++;
  while (last >= first && !user(entries[last]!)) last--;
  if (first > last) return [];
  if (!kernelHas('guardFlag')) return reader.guardRanges(entries[first]!.start, entries[last]!.end);
  if (!kernelHas('guardReport')) return null;
  const out: bigint[] = [];
  const flagged = (e: SmapsEntry): boolean => user(e) && e.vmFlags.includes('gu');
  for (let i = first; i <= last; i++) {
    if (!flagged(entries[i]!)) continue;
    let j = i;
    while (j + 1 <= last && entries[j + 1]!.start === entries[j]!.end && flagged(entries[j + 1]!)) j++;
    const r = reader.guardRanges(entries[i]!.start, entries[j]!.end);
    if (r === null) return null;
    for (const x of r) out.push(x);
    i = j;
  }
  return out;
}

/** `ksm_merging_pages` in bytes, where smaps has no `KSM` field (Linux 6.1 to 6.5), or null. */
function ksmFromStat(pid: number | 'self', page: number): number | null {
  try {
    const k = ksmStat(pid);
    return k?.mergingPages == null ? null : k.mergingPages * page;
  } catch {
    return null;
  }
}

/** Whether `pid` names the calling process. */
export function isSelf(pid: number | undefined): boolean {
  return pid === undefined || pid === process.pid;
}

/**
 * A snapshot through `reader`. `runtime` gives the statistics that split the
 * anonymous pool: this process's own when the reader is for it.
 */
export function snapshotWith(reader: ProcReader, runtime: (() => RuntimeStats | null) | null, detail: boolean, rollup = true, staleAfterMs = Infinity): ExplainSnapshot {
  const t0 = performance.now();
  const time = Date.now();
  const stats = runtime ? runtime() : null;
  const read = reader.smapsScanThenRollup(rollup);
  // Parsed at once: the reads below reuse the buffers the scan and the bytes are in.
  let entries = read.scan ? entriesOfScan(read.scan) : parseSmapsBytes(read.bytes, read.length);
  let rollupText = read.rollupText;
  if (entries === null) {
    // A mapping line the scan's reader cannot read: the whole text again, for the parser's error.
    const [bytes, length, text] = reader.smapsThenRollup(rollup);
    entries = parseSmapsBytes(bytes, length);
    rollupText = text;
  }
  if (reader.exiting()) {
    throw noSuchProcess(reader.pid, 'it is exiting: its mappings are being torn down', 'read');
  }
  // Another program's agent, asked again after smaps: an exit event reported
  // by now may have come before the smaps read (Node's teardown), so the
  // snapshot is marked (at worst one sample taken just before it is too).
  const teardown = stats?.exiting === true || (runtime !== null && reader.pid !== 'self' && stats !== null && runtime()?.exiting === true);
  const guards = guardScan(reader, entries);
  const status = reader.status();
  const sps = reader.threadStackPointers();
  reader.startMemoryReads(MALLOC_HEADER_BUDGET);
  const root = reader.pid === 'self' ? '' : `${reader.dir}/root`;
  const page = pageSize();
  // pagewise's ranges: the addon's own list in this process; a child's from its agent.
  const self = reader.pid === 'self' || reader.pid === process.pid;
  const ranges = self ? native.regionsHeld() : stats?.pagewiseRanges ? BigUint64Array.from(stats.pagewiseRanges, (x) => BigInt(x)) : undefined;
  const a = attribute(entries, {
    threadStackPointers: sps, pagewiseRanges: ranges, heapInfo: (s) => reader.heapInfo(s, page), elfLoads: (file) => elfLoads(root + file), pageSize: page,
    mallocScan: (s, e, exact) => reader.mallocScan(s, e, page, exact), presentPages: (s, e) => reader.presentPages(s, e, page),
  }, stats, detail);
  const pidMatch = /^Pid:\s+(\d+)$/m.exec(status);
  const snap: ExplainSnapshot = {
    pid: pidMatch ? Number(pidMatch[1]) : process.pid,
    time,
    pageSize: page,
    totals: {
      ...a.totals, pageTables: vmPte(status), rollupRss: rollupText === null ? null : parseSmapsRollup(rollupText).rss, guardPages: guardPageCount(guards, page),
      ksm: a.totals.ksm ?? ksmFromStat(reader.pid, page),
    },
    categories: a.categories,
    breakdowns: a.breakdowns,
    runtime: stats,
    runtimeAgeMs: stats ? Math.max(0, time - stats.time) : null,
    runtimeStale: stats !== null && time - stats.time > staleAfterMs,
    node: a.node,
    ...(teardown ? { teardown: true } : {}),
    costMs: 0,
  };
  if (a.vmas) {
    if (guards !== null) guardsPerVma(a.vmas, guards, page);
    snap.vmas = a.vmas;
  }
  snap.costMs = performance.now() - t0;
  return snap;
}
