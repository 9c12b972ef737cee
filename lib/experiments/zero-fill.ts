/** Experiment 1: does mmap reserve physical memory, or only address space? */
import { mmap } from '../mapping';
import { pageSize } from '../system';
import { readMeminfo } from '../proc/meminfo';
import { zeroPageBehaviour } from '../measure/zeropage';
import { defineExperiment, fmtBytes, m, mappingRss, probeJson, probeMissing, processRss, readPages, threadFaults, touchPages, type Outcome } from './common';
import type { ExperimentMeasurement, Series } from './types';

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

function body(): Outcome {
  const page = pageSize();
  const reserve = 1 << 30;
  const k = 256;
  const ms: ExperimentMeasurement[] = [];

  // Charged vs not charged: the same size without MAP_NORESERVE, unmapped at once, never touched.
  const c0 = committedAs();
  const charged = mmap(reserve);
  const c1 = committedAs();
  charged.unmap();

  const rss0 = processRss();
  const ca = committedAs();
  const region = mmap(reserve, { noReserve: true });
  try {
    region.advise('nohugepage');
    const cb = committedAs();
    const rss1 = processRss();
    const residentAfterMap = region.residentPages();
    const regionRssAfterMap = mappingRss(region);
    ms.push(m('reserved (MAP_NORESERVE)', reserve, 'bytes', 'mmap'));
    ms.push(m('resident after mmap', residentAfterMap, 'pages', 'mincore'));
    ms.push(m('mapping Rss after mmap', regionRssAfterMap, 'bytes', '/proc/self/smaps'));
    ms.push(m('process RSS change after mmap', rss1 - rss0, 'bytes', '/proc/self/smaps_rollup (V8 threads add noise)'));
    ms.push(m('Committed_AS change, MAP_NORESERVE', cb - ca, 'bytes', '/proc/meminfo (system-wide: other processes add noise)'));
    ms.push(m('Committed_AS change, same size charged', c1 - c0, 'bytes', '/proc/meminfo'));

    // Pages [0, 3k) are written, [3k, 6k) read, [6k, 7k) warm the loops.
    const view = region.view(0, 7 * k * page);
    // Warm the loops on pages that are not counted, so JIT work does not fault inside the counted loop.
    touchPages(view, page, 6 * k, 8);
    readPages(view, page, 6 * k + 8, 8);
    // The kernel takes exactly one fault per fresh page; V8 may add a stray
    // fault of its own on this thread (GC, stack), so each count is the
    // minimum of up to 3 trials on fresh pages (it stops at the first exact one).
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
    for (let t = 1; t < 3 && w.faults !== k; t++) {
      const next = trial(t * k, true);
      if (next.faults < w.faults) w = next;
    }
    const writeFaults = w.faults;
    const residentWritten = w.resident;
    ms.push(m(`faults writing ${k} fresh pages`, writeFaults, 'faults', 'getrusage(RUSAGE_THREAD), best of up to 3 trials'));
    ms.push(m(`pages resident after writing ${k}`, residentWritten, 'pages', 'mincore'));
    ms.push(m(`mapping Rss added by writing ${k} pages`, w.rss, 'bytes', '/proc/self/smaps'));

    let r = trial(3 * k, false);
    for (let t = 1; t < 3 && r.faults !== k; t++) {
      const next = trial((3 + t) * k, false);
      if (next.faults < r.faults) r = next;
    }
    const readFaults = r.faults;
    const residentRead = r.resident;
    const rssR = r.rss;
    const zeroPage = rssR === 0;
    ms.push(m(`faults reading ${k} fresh pages`, readFaults, 'faults', 'getrusage(RUSAGE_THREAD), best of up to 3 trials'));
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
    const s = region.view(8 * k * page, k * page);
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
      (c1 - c0) - (cb - ca) >= reserve / 2;
    const verdict = lazy && probeOk !== false ? 'confirmed' : 'refuted';
    const readBehaviour = zeroPage
      ? `read faults map the shared zero page here (reading ${k} pages added 0 bytes of Rss)`
      : `this kernel does not map the shared zero page on read faults: reading ${k} fresh pages took ${readFaults} faults and added ${fmtBytes(rssR)} of Rss, like writes`;
    return {
      measurements: ms,
      verdict,
      condition: readBehaviour,
      notes:
        `mmap of ${fmtBytes(reserve)} made 0 pages resident and (with MAP_NORESERVE) charged ${fmtBytes(cb - ca)} of commit ` +
        `against ${fmtBytes(c1 - c0)} without it; each first write costs one fault and one page (${writeFaults} faults, ${residentWritten} pages for ${k}). ` +
        readBehaviour +
        '.',
      key: [`faults writing ${k} fresh pages`, `pages resident after writing ${k}`, `mapping Rss added by reading ${k} pages`, 'Committed_AS change, MAP_NORESERVE'],
      series: [series],
    };
  } finally {
    region.unmap();
  }
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
