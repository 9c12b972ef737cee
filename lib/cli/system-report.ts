/**
 * `pagewise system`: what this kernel is (page size, THP, overcommit) and a
 * live zero-fill-on-demand demonstration with exact figures.
 */
import * as os from 'node:os';
import type { CliCommand } from './command';
import { EXIT, parseCommand, terminalWidth, wrap } from './support';
import { mmap } from '../mapping';
import { pageSize, hugePageSize } from '../kernel/system';
import { meminfoBytes, thpSetting, vmSysctl } from '../kernel/facts';
import { measureSync } from '../measure/measure';

function committedAs(): number | null {
  return meminfoBytes('Committed_AS');
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
    /** Minor faults of this thread writing them: the fewest of {@link SystemReport.zeroFill.trials} trials on fresh pages. */
    threadFaults: number;
    /** Trials run (each on its own fresh pages); the figures are those of the trial with the fewest thread faults. */
    trials: number;
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
  const commitLimit = meminfoBytes('CommitLimit');
  const k = 64;
  const reserved = 1 << 30;
  const commitBefore = committedAs();
  const m = mmap(reserved, { noReserve: true });
  try {
    m.advise('nohugepage');
    const commitAfterMap = committedAs();
    const trials = 5;
    const view = m.view(0, (trials + 1) * k * page);
    const residentBefore = m.residentPages();
    // The kernel takes one fault per fresh page; V8 may add one of its own
    // on this thread (compiling the loop in tiers, each installed from this
    // thread, or a fresh heap page), so: warm the loop on pages after the
    // counted ones until it runs quiet, then report the fewest of 5 trials,
    // each on fresh pages. measureSync reads /proc through kept descriptors
    // into preallocated buffers, so the reading itself allocates nothing.
    const touch = (from: number, to: number): void => {
      for (let i = from; i < to; i++) view[i * page] = 1;
    };
    const spare = trials * k;
    touch(spare, spare + k);
    for (let calls = 0, quiet = 0; calls < 200 && quiet < 5; calls++) {
      quiet = measureSync(() => touch(spare, spare + k), { mappings: [m] }).threadFaults.minor === 0 ? quiet + 1 : 0;
    }
    let best: { r: ReturnType<typeof measureSync<void>>; t: number } | undefined;
    for (let t = 0; t < trials; t++) {
      const r = measureSync(() => touch(t * k, (t + 1) * k), { mappings: [m] });
      if (!best || r.threadFaults.minor < best.r.threadFaults.minor) best = { r, t };
    }
    const r = best!.r;
    const residentAfter = m.residentPages(best!.t * k * page, k * page);
    m.advise('dontneed');
    return {
      kernel: os.release(),
      arch: process.arch,
      node: process.version,
      pageSize: page,
      thp: {
        enabled: thpSetting('enabled'),
        defrag: thpSetting('defrag'),
        size: hugePageSize(),
      },
      overcommit: {
        mode: vmSysctl('overcommit_memory'),
        ratio: vmSysctl('overcommit_ratio'),
        kbytes: vmSysctl('overcommit_kbytes'),
        commitLimit,
        committedAs: commitBefore,
      },
      maxMapCount: vmSysctl('max_map_count'),
      zeroFill: {
        reserved,
        pagesWritten: k,
        residentBefore,
        residentAfter,
        threadFaults: r.threadFaults.minor,
        trials,
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

/** Human-readable rendering of {@link systemReport}, every line within `width` columns. */
export function formatSystemReport(r: SystemReport, width = 80): string {
  const z = r.zeroFill;
  const modes: Record<number, string> = { 0: 'heuristic', 1: 'always', 2: 'never (strict accounting)' };
  const rows: [string, string][] = [
    ['kernel', `${r.kernel} (${r.arch}), Node ${r.node}`],
    ['page size', `${r.pageSize} bytes`],
    ['THP', `enabled=${r.thp.enabled ?? 'n/a'} defrag=${r.thp.defrag ?? 'n/a'} size=${fmtBytes(r.thp.size)}`],
    ['overcommit', `mode ${r.overcommit.mode ?? 'n/a'} (${modes[r.overcommit.mode ?? -1] ?? '?'}), ratio ${r.overcommit.ratio ?? 'n/a'}%, kbytes ${r.overcommit.kbytes ?? 'n/a'}`],
    ['commit', `CommitLimit ${fmtBytes(r.overcommit.commitLimit)}, Committed_AS ${fmtBytes(r.overcommit.committedAs)}`],
    ['max_map_count', `${r.maxMapCount ?? 'n/a'}`],
  ];
  const demo: [string, string][] = [
    ['resident after mmap', `${z.residentBefore} pages (mincore)`],
    ['Committed_AS change', `${fmtBytes(z.committedAsDelta)} (/proc/meminfo; other processes add noise)`],
    [`write 1 byte to ${z.pagesWritten} pages`, `${z.threadFaults} minor faults on this thread (getrusage RUSAGE_THREAD, fewest of ${z.trials} trials on fresh pages: V8 can add a fault of its own)`],
    ['resident after writes', `${z.residentAfter} of those ${z.pagesWritten} pages (mincore)`],
    ['mapping RSS change', `${fmtBytes(z.mappingRssDelta)} = ${z.mappingRssDelta / r.pageSize} pages (residency of the mapping, exact)`],
    ['process RSS change', `${fmtBytes(z.processRssDelta)} = ${z.processRssDelta / r.pageSize} pages (smaps_rollup, the whole process: V8's threads may add their own)`],
    ['resident after MADV_DONTNEED', `${z.residentAfterDontneed} pages (mincore)`],
  ];
  const lines = (items: [string, string][], indent: string): string[] => {
    const labelWidth = Math.max(...items.map(([k]) => k.length)) + 2;
    return items.flatMap(([k, v]) =>
      width - indent.length - labelWidth >= 30
        ? wrap(v, width, ' '.repeat(indent.length + labelWidth), `${indent}${k.padEnd(labelWidth)}`)
        : [`${indent}${k}`, ...wrap(v, width, `${indent}    `, `${indent}    `)],
    );
  };
  return [
    ...lines(rows, ''),
    '',
    ...wrap(`zero-fill-on-demand (mmap ${fmtBytes(z.reserved)} MAP_NORESERVE, MADV_NOHUGEPAGE):`, width, '  '),
    ...lines(demo, '  '),
  ].join('\n');
}

const HELP = `Usage: pagewise system [--json]

Prints the kernel facts pagewise depends on (page size, THP, overcommit,
max_map_count) and a live zero-fill-on-demand demonstration.

Options:
  --json          print the report as JSON
  -V, --version   print the version
  -h, --help      show this help
`;

export const command: CliCommand = {
  name: 'system',
  summary: 'kernel facts (page size, THP, overcommit) and a live zero-fill-on-demand demonstration',
  async run(argv) {
    const parsed = parseCommand('system', argv, { json: { type: 'boolean' } }, HELP);
    if (!parsed) return EXIT.ok;
    const r = systemReport();
    process.stdout.write(parsed.values.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatSystemReport(r, terminalWidth())}\n`);
    return EXIT.ok;
  },
};
