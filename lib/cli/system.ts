/**
 * `pagewise system`: what this kernel is (page size, THP, overcommit) and a
 * live zero-fill-on-demand demonstration with exact figures.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import type { CliCommand } from './types';
import { mmap } from '../mapping';
import { pageSize, hugePageSize } from '../system';
import { measureSync } from '../measure/measure';

function readTrim(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function bracketed(text: string | null): string | null {
  if (text === null) return null;
  const m = /\[([^\]]+)\]/.exec(text);
  return m ? m[1]! : text;
}

function committedAs(): number | null {
  const text = readTrim('/proc/meminfo');
  const m = text && /^Committed_AS:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/** The facts and the demonstration, as data. */
export interface SystemReport {
  kernel: string;
  arch: string;
  node: string;
  pageSize: number;
  thp: { enabled: string | null; defrag: string | null; size: number | null };
  overcommit: { mode: number | null; ratio: number | null; kbytes: number | null; commitLimit: number | null; committedAs: number | null };
  maxMapCount: number | null;
  zeroFill: {
    reserved: number;
    pagesWritten: number;
    residentBefore: number;
    residentAfter: number;
    threadFaults: number;
    /** Resident bytes the writes added to the mapping (exact: residency of the mapping's range). */
    mappingRssDelta: number;
    /** The process's exact RSS change over the same window (smaps_rollup; V8's other threads can move it). */
    processRssDelta: number;
    committedAsDelta: number | null;
    residentAfterDontneed: number;
  };
}

/** Collects the report (maps 1 GiB NORESERVE, writes 64 pages, gives them back). */
export function systemReport(): SystemReport {
  const page = pageSize();
  const num = (f: string): number | null => {
    const t = readTrim(f);
    return t === null || t === '' ? null : Number(t);
  };
  const meminfo = readTrim('/proc/meminfo') ?? '';
  const limit = /^CommitLimit:\s+(\d+) kB/m.exec(meminfo);
  const k = 64;
  const reserved = 1 << 30;
  const commitBefore = committedAs();
  const m = mmap(reserved, { noReserve: true });
  try {
    m.advise('nohugepage');
    const commitAfterMap = committedAs();
    const view = m.view(0, k * page);
    const residentBefore = m.residentPages();
    // Warm the loop on the page after the k counted ones, so compiling it is
    // not in the figures; measureSync reads /proc through kept descriptors
    // into preallocated buffers, so the reading itself allocates nothing.
    const touch = (from: number, to: number): void => {
      for (let i = from; i < to; i++) view[i * page] = 1;
    };
    m.view(k * page, page)[0] = 1;
    measureSync(() => touch(k, k));
    const r = measureSync(() => touch(0, k), { mappings: [m] });
    const residentAfter = m.residentPages(0, k * page);
    m.advise('dontneed');
    return {
      kernel: os.release(),
      arch: process.arch,
      node: process.version,
      pageSize: page,
      thp: {
        enabled: bracketed(readTrim('/sys/kernel/mm/transparent_hugepage/enabled')),
        defrag: bracketed(readTrim('/sys/kernel/mm/transparent_hugepage/defrag')),
        size: hugePageSize(),
      },
      overcommit: {
        mode: num('/proc/sys/vm/overcommit_memory'),
        ratio: num('/proc/sys/vm/overcommit_ratio'),
        kbytes: num('/proc/sys/vm/overcommit_kbytes'),
        commitLimit: limit ? Number(limit[1]) * 1024 : null,
        committedAs: commitBefore,
      },
      maxMapCount: num('/proc/sys/vm/max_map_count'),
      zeroFill: {
        reserved,
        pagesWritten: k,
        residentBefore,
        residentAfter,
        threadFaults: r.threadFaults.minor,
        mappingRssDelta: r.residency[0]!.bytes,
        processRssDelta: r.rss.exactDelta,
        committedAsDelta: commitBefore !== null && commitAfterMap !== null ? commitAfterMap - commitBefore : null,
        residentAfterDontneed: m.residentPages(),
      },
    };
  } finally {
    m.unmap();
  }
}

const MiB = 1024 * 1024;
function fmtBytes(n: number | null): string {
  if (n === null) return 'n/a';
  if (Math.abs(n) >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(1)} GiB`;
  if (Math.abs(n) >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (Math.abs(n) >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

/** Human-readable rendering of {@link systemReport}. */
export function formatSystemReport(r: SystemReport): string {
  const z = r.zeroFill;
  const modes: Record<number, string> = { 0: 'heuristic', 1: 'always', 2: 'never (strict accounting)' };
  return [
    `kernel           ${r.kernel} (${r.arch}), Node ${r.node}`,
    `page size        ${r.pageSize} bytes`,
    `THP              enabled=${r.thp.enabled ?? 'n/a'} defrag=${r.thp.defrag ?? 'n/a'} size=${fmtBytes(r.thp.size)}`,
    `overcommit       mode ${r.overcommit.mode ?? 'n/a'} (${modes[r.overcommit.mode ?? -1] ?? '?'}), ratio ${r.overcommit.ratio ?? 'n/a'}%, kbytes ${r.overcommit.kbytes ?? 'n/a'}`,
    `commit           CommitLimit ${fmtBytes(r.overcommit.commitLimit)}, Committed_AS ${fmtBytes(r.overcommit.committedAs)}`,
    `max_map_count    ${r.maxMapCount ?? 'n/a'}`,
    ``,
    `zero-fill-on-demand (mmap ${fmtBytes(z.reserved)} MAP_NORESERVE, MADV_NOHUGEPAGE):`,
    `  resident after mmap          ${z.residentBefore} pages (mincore)`,
    `  Committed_AS change          ${fmtBytes(z.committedAsDelta)} (/proc/meminfo; other processes add noise)`,
    `  write 1 byte to ${z.pagesWritten} pages     ${z.threadFaults} minor faults on this thread (getrusage RUSAGE_THREAD; one more means V8 touched a fresh heap page meanwhile)`,
    `  resident after writes        ${z.residentAfter} of those ${z.pagesWritten} pages (mincore)`,
    `  mapping RSS change           ${fmtBytes(z.mappingRssDelta)} = ${z.mappingRssDelta / r.pageSize} pages (residency of the mapping, exact)`,
    `  process RSS change           ${fmtBytes(z.processRssDelta)} = ${z.processRssDelta / r.pageSize} pages (smaps_rollup, exact for the whole process: V8's threads may add their own)`,
    `  resident after MADV_DONTNEED ${z.residentAfterDontneed} pages (mincore)`,
  ].join('\n');
}

export const command: CliCommand = {
  name: 'system',
  summary: 'kernel facts (page size, THP, overcommit) and a live zero-fill-on-demand demonstration',
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      process.stdout.write('Usage: pagewise system [--json]\n\nPrints the kernel facts pagewise depends on and a live zero-fill-on-demand demonstration.\n');
      return 0;
    }
    const r = systemReport();
    process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatSystemReport(r)}\n`);
    return 0;
  },
};
