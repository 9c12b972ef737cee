/** Experiment 1: does mmap reserve physical memory, or only address space? */
import { mmap } from '../mapping';
import { pageSize } from '../kernel/system';
import { readMeminfo } from '../kernel/meminfo';
import { zeroPageBehaviour } from '../measure/zeropage';
import { fmtBytes } from '../format';
import { threadFaults } from '../measure/faults';
import { readPages, touchPages } from '../measure/touch';
import { mappingRss } from '../measure/vmas';
import { median, processRss } from './common';
import { decide, inconclusiveText, type Decision } from './trials';
import { defineExperiment, m, type Outcome } from './define';
import { probeJson, probeMissing } from './probe';
import type { ExperimentMeasurement, Series } from './experiment';

interface ProbeZfod {
  size: number;
  mmapped: boolean;
  rssBefore: number;
  rssAfterMalloc: number;
  pagesWritten: number;
  faults: number;
  rssAfterWrite: number;
}

function committedAs(): number {
  return readMeminfo()['Committed_AS'] ?? NaN;
}

/** Trials (each on fresh pages) for the fault counts; the first exact one ends them. */
const TRIES = 5;

function body(): Outcome {
  const page = pageSize();
  const reserve = 1 << 30;
  const k = 256;
  const ms: ExperimentMeasurement[] = [];

  // Charged vs not charged: the same size without MAP_NORESERVE, unmapped at once, never touched.
  // Committed_AS is system-wide: another process can commit or release
  // gigabytes between two readings. Each trial maps and unmaps the size once
  // charged and once with MAP_NORESERVE (the order alternating) and yields
  // (charged - not charged) / size; decide() calls the difference when the
  // interval of its median clears one half of the size.
  const chargeOf = (noReserve: boolean): number => {
    const before = committedAs();
    const x = mmap(reserve, noReserve ? { noReserve: true } : undefined);
    const after = committedAs();
    x.unmap();
    return after - before;
  };
  const charged: number[] = [];
  const notCharged: number[] = [];
  const commit = decide({
    holds: [0.5, Infinity],
    warmup: 0,
    budgetMs: 3000,
    trial: (flip) => {
      let c: number;
      let n: number;
      if (flip) {
        n = chargeOf(true);
        c = chargeOf(false);
      } else {
        c = chargeOf(false);
        n = chargeOf(true);
      }
      charged.push(c);
      notCharged.push(n);
      return (c - n) / reserve;
    },
  });
  const chargedDelta = median(charged);
  const noReserveDelta = median(notCharged);
  const TRIALS = commit.n;

  const rss0 = processRss();
  const region = mmap(reserve, { noReserve: true });
  try {
    region.advise('nohugepage');
    const rss1 = processRss();
    const residentAfterMap = region.residentPages();
    const regionRssAfterMap = mappingRss(region);
    ms.push(m('reserved (MAP_NORESERVE)', reserve, 'bytes', 'mmap'));
    ms.push(m('resident after mmap', residentAfterMap, 'pages', 'mincore'));
    ms.push(m('mapping Rss after mmap', regionRssAfterMap, 'bytes', '/proc/self/smaps'));
    ms.push(m('process RSS change after mmap', rss1 - rss0, 'bytes', '/proc/self/smaps_rollup (V8 threads add noise)'));
    ms.push(m('Committed_AS change, MAP_NORESERVE', noReserveDelta, 'bytes', `/proc/meminfo, median of ${TRIALS} interleaved trials (system-wide: other processes add noise)`));
    ms.push(m('Committed_AS change, same size charged', chargedDelta, 'bytes', `/proc/meminfo, median of ${TRIALS} (system-wide)`));

    // Pages [0, 5k) are written, [5k, 10k) read (a k-page block per trial), [10k, 11k) warm the loops.
    const view = region.view(0, (2 * TRIES + 1) * k * page);
    // Warm the loops on pages that are not counted, so JIT work does not fault inside the counted loop.
    touchPages(view, page, 2 * TRIES * k, 8);
    readPages(view, page, 2 * TRIES * k + 8, 8);
    // The kernel takes exactly one fault per fresh page; V8 may add a stray
    // fault of its own on this thread (GC, stack), so each count is the
    // minimum of up to TRIES (5) trials on fresh pages (it stops at the first exact one).
    const trial = (first: number, write: boolean): { faults: number; resident: number; rss: number } => {
      const r0 = region.residentPages();
      const rss0 = mappingRss(region);
      const f0 = threadFaults();
      if (write) touchPages(view, page, first, k);
      else readPages(view, page, first, k);
      const f1 = threadFaults();
      return { faults: f1 - f0, resident: region.residentPages() - r0, rss: mappingRss(region) - rss0 };
    };
    let w = trial(0, true);
    for (let t = 1; t < TRIES && w.faults !== k; t++) {
      const next = trial(t * k, true);
      if (next.faults < w.faults) w = next;
    }
    const writeFaults = w.faults;
    const residentWritten = w.resident;
    ms.push(m(`faults writing ${k} fresh pages`, writeFaults, 'faults', `getrusage(RUSAGE_THREAD), best of up to ${TRIES} trials`));
    ms.push(m(`pages resident after writing ${k}`, residentWritten, 'pages', 'mincore'));
    ms.push(m(`mapping Rss added by writing ${k} pages`, w.rss, 'bytes', '/proc/self/smaps'));

    let r = trial(TRIES * k, false);
    for (let t = 1; t < TRIES && r.faults !== k; t++) {
      const next = trial((TRIES + t) * k, false);
      if (next.faults < r.faults) r = next;
    }
    const readFaults = r.faults;
    const residentRead = r.resident;
    const rssR = r.rss;
    const zeroPage = rssR === 0;
    ms.push(m(`faults reading ${k} fresh pages`, readFaults, 'faults', `getrusage(RUSAGE_THREAD), best of up to ${TRIES} trials`));
    ms.push(m(`pages present after reading ${k}`, residentRead, 'pages', 'mincore (counts a zero-page mapping too)'));
    ms.push(m(`mapping Rss added by reading ${k} pages`, rssR, 'bytes', '/proc/self/smaps (excludes the shared zero page)'));
    ms.push(m('read faults map the shared zero page', zeroPage, '', 'smaps Rss delta of the reads'));
    try {
      const z = zeroPageBehaviour();
      ms.push(m('zero page, cross-check', z.readFaultMapsZeroPage, '', `pagewise zeroPageBehaviour() by ${z.method}: ${z.detail}`));
    } catch (err) {
      ms.push(m('zero page, cross-check', null, '', `zeroPageBehaviour() failed: ${(err as Error).message.split('\n')[0]}`));
    }

    // RSS against pages touched, for the report (not fault-counted: reading
    // smaps allocates), over the same k pages as the table's figures.
    const series: Series = { name: 'mapping Rss vs pages written', x: [0], y: [0], xUnit: 'pages written', yUnit: 'bytes' };
    const s = region.view((2 * TRIES + 2) * k * page, k * page);
    const base = mappingRss(region);
    for (let done = 0; done < k; ) {
      touchPages(s, page, done, 16);
      done += 16;
      series.x.push(done);
      series.y.push(mappingRss(region) - base);
    }

    // The same through glibc: malloc(1 GiB) in the single-threaded probe.
    const missing = probeMissing();
    let probeOk: boolean | null = null;
    if (missing === null) {
      const p = probeJson<ProbeZfod>(['zfod', String(k)]);
      ms.push(m('malloc(1 GiB) served by its own mmap', p.mmapped, '', 'pagewise-probe (pointer outside the brk heap)'));
      ms.push(m('probe RSS change after malloc(1 GiB)', p.rssAfterMalloc - p.rssBefore, 'bytes', 'pagewise-probe: /proc/self/smaps_rollup'));
      ms.push(m(`probe faults writing ${k} pages of it`, p.faults, 'faults', 'pagewise-probe: getrusage(RUSAGE_SELF), single thread'));
      ms.push(m(`probe RSS change after writing ${k} pages`, p.rssAfterWrite - p.rssAfterMalloc, 'bytes', 'pagewise-probe: /proc/self/smaps_rollup'));
      probeOk = p.mmapped && p.faults === k && p.rssAfterMalloc - p.rssBefore < 64 * page && p.rssAfterWrite - p.rssAfterMalloc >= k * page;
    } else {
      ms.push(m('malloc(1 GiB) in the probe', null, '', missing));
    }

    const lazy =
      residentAfterMap === 0 &&
      regionRssAfterMap === 0 &&
      writeFaults === k &&
      residentWritten === k &&
      w.rss === k * page &&
      readFaults === k &&
      commit.outcome !== 'refuted';
    const verdict = !lazy || probeOk === false ? 'refuted' : commit.outcome === 'inconclusive' ? 'depends' : 'confirmed';
    const readBehaviour = zeroPage
      ? `read faults map the shared zero page here (reading ${k} pages added 0 bytes of Rss)`
      : `this kernel does not map the shared zero page on read faults: reading ${k} fresh pages took ${readFaults} faults and added ${fmtBytes(rssR)} of Rss, like writes`;
    return {
      measurements: ms,
      verdict,
      condition: commit.outcome === 'inconclusive' ? `${commitText(commit, reserve)}; ${readBehaviour}` : readBehaviour,
      notes:
        `mmap of ${fmtBytes(reserve)} made 0 pages resident and (with MAP_NORESERVE) charged ${fmtBytes(noReserveDelta)} of commit ` +
        `against ${fmtBytes(chargedDelta)} without it (medians of ${TRIALS}); each first write costs one fault and one page (${writeFaults} faults, ${residentWritten} pages for ${k}). ` +
        readBehaviour +
        '.',
      key: [`faults writing ${k} fresh pages`, `pages resident after writing ${k}`, `mapping Rss added by reading ${k} pages`, 'Committed_AS change, MAP_NORESERVE'],
      series: [series],
    };
  } finally {
    region.unmap();
  }
}

/** What the commit-charge decision says (exported for the wording test). */
export function commitText(d: Decision, reserve: number): string {
  const share = (v: number): string => `${Math.round(v * 100)}% of ${fmtBytes(reserve)}`;
  if (d.outcome === 'inconclusive') return inconclusiveText('Committed_AS charged without MAP_NORESERVE minus with it:', d, 'one half of the size (other processes commit and release memory between the readings)', share);
  return `Committed_AS charged without MAP_NORESERVE minus with it: median ${share(d.median)} over ${d.n} trials`;
}

/** Experiment 1: zero-fill-on-demand. */
export const zeroFill = defineExperiment(
  {
    id: 'zero-fill',
    number: 1,
    title: 'Zero-fill-on-demand',
    question: 'Does mmap reserve physical memory, or only address space?',
    claim: 'mmap (and malloc of a large block) reserves address space only; a page becomes resident at its first touch, one fault per page.',
  },
  body,
);
