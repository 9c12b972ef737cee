/** Experiment 2: MADV_DONTNEED versus munmap + mmap to give pages back but keep the range. */
import { mmap, type Mapping } from '../mapping';
import { lab, labMissing } from '../native/lab';
import { pageSize } from '../kernel/system';
import { adviceSupported } from '../mapping/flags';
import { readPages, touchPages } from '../measure/touch';
import { vmaCount } from '../measure/vmas';
import { costWords, median, nowNs } from './common';
import { adviceNumber } from '../mapping/flags';
import { decide, fmtRatio, inconclusiveText, medianInterval, showDecision, showLoad, type Decision } from './trials';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import type { ExperimentMeasurement, Series } from './experiment';

function countValue(view: Uint8Array, page: number, pages: number, value: number): number {
  let n = 0;
  for (let i = 0; i < pages; i++) if (view[i * page] === value) n++;
  return n;
}

interface Costs {
  pages: number;
  /** (munmap + mmap) / MADV_DONTNEED, per trial. */
  decision: Decision;
  dontneedNs: number;
  remapNs: number;
  /** Every trial's ns, each way (the chart's spread). */
  dn: number[];
  rm: number[];
  /** The same DONTNEED done by a C loop (pagewise_lab), and JS / C per trial. */
  cNs: number;
  jsOverC: { median: number; low: number; high: number; n: number } | null;
  residentDontneed: number;
  residentRemap: number;
  zeros: number;
}

/**
 * One size. Each trial dirties the range and gives it back with
 * MADV_DONTNEED, dirties it again and gives it back with munmap+mmap (the
 * other order in the next trial), and, at the largest size, dirties it from
 * C and gives it back with madvise from C: the same system call without
 * Node-API in between. Only the system calls are timed; the views the
 * touches write through are made outside the timed part (munmap+mmap
 * detaches them, so each touch makes its own).
 */
function costs(pages: number, withC: boolean, budgetMs: number): Costs {
  const page = pageSize();
  const len = pages * page;
  const region = mmap(len);
  const DONTNEED = adviceNumber('dontneed');
  try {
    const dn: number[] = [];
    const rm: number[] = [];
    const cn: number[] = [];
    const jsOverC: number[] = [];
    let residentDontneed = -1;
    let residentRemap = -1;
    let zeros = 0;
    const dontneed = (): number => {
      touchPages(region.view(0, len), page, 0, pages, 7);
      const t = nowNs();
      region.advise('dontneed', 0, len);
      const ns = nowNs() - t;
      residentDontneed = region.residentPages();
      return ns;
    };
    const remap = (): number => {
      touchPages(region.view(0, len), page, 0, pages, 7);
      const t = nowNs();
      lab.unmapRemap(region, 0, len, 0);
      const ns = nowNs() - t;
      residentRemap = region.residentPages();
      zeros = countValue(region.view(0, len), page, pages, 0);
      return ns;
    };
    const decision = decide({
      holds: ABOUT_THE_SAME,
      budgetMs,
      maxTrials: 61,
      trial: (flip) => {
        let a: number;
        let b: number;
        if (flip) {
          b = remap();
          a = dontneed();
        } else {
          a = dontneed();
          b = remap();
        }
        dn.push(a);
        rm.push(b);
        if (withC) {
          lab.cbenchTouch(region, 0, len, page);
          const c = lab.cbenchMadvise(region, 0, len, DONTNEED, 1);
          cn.push(c);
          jsOverC.push(a / c);
        }
        return b / a;
      },
    });
    const js = withC ? { ...medianInterval(jsOverC), n: jsOverC.length } : null;
    return { pages, decision, dontneedNs: median(dn), remapNs: median(rm), dn, rm, cNs: median(cn), jsOverC: js, residentDontneed, residentRemap, zeros };
  } finally {
    region.unmap();
  }
}

/** "About the same": within 2x either way. */
const ABOUT_THE_SAME = [0.5, 2] as const;

/** The verdict and its condition about the cost, from the decision at the largest size (exported for the wording test). */
export function costVerdict(d: Decision, pages: number): { outcome: Decision['outcome']; text: string } {
  const said = `munmap+mmap of ${pages} dirty pages takes ${fmtRatio(d.median)} the time of MADV_DONTNEED (${costWords(d.median, 1)}); ${showDecision(d)}, ${showLoad(d)}`;
  if (d.outcome === 'inconclusive') return { outcome: d.outcome, text: inconclusiveText(`munmap+mmap / DONTNEED at ${pages} pages:`, d, 'the 0.5x-2x band of "about the same"') };
  return { outcome: d.outcome, text: d.outcome === 'confirmed' ? `${said}: about the same, both are dominated by freeing the pages` : `${said}: not within 2x` };
}

/** Gives back every 4th page of a 256-page region in 64 scattered sub-ranges; returns the VMA count after. */
function scattered(how: 'dontneed' | 'remap', adviseFirst: boolean): number {
  const page = pageSize();
  const pages = 256;
  const region: Mapping = mmap(pages * page);
  try {
    // A program's own mmap has no name, and neither do the pages the remap maps: without pagewise's default name
    // the kernel can merge them with their neighbours (a name differing is enough to keep VMAs apart).
    if (region.label !== null) region.name(null);
    if (adviseFirst) region.advise('nohugepage');
    touchPages(region.view(0, pages * page), page, 0, pages, 3);
    for (let i = 1; i < pages; i += 4) {
      if (how === 'dontneed') region.advise('dontneed', i * page, page);
      else lab.unmapRemap(region, i * page, page, 0);
    }
    return vmaCount(region);
  } finally {
    region.unmap();
  }
}

function body(): Outcome {
  const missing = labMissing();
  if (missing) return skippedOutcome(missing);
  const page = pageSize();
  const ms: ExperimentMeasurement[] = [];
  const LARGEST = 1 << 12; // pages (a count, not a page size)
  const sizes = [16, 256, LARGEST];
  const dnSeries: Series = { name: 'MADV_DONTNEED', x: [], y: [], xUnit: 'pages', yUnit: 'ns/page', trials: [], lo: [], hi: [] };
  const rmSeries: Series = { name: 'munmap + mmap', x: [], y: [], xUnit: 'pages', yUnit: 'ns/page', trials: [], lo: [], hi: [] };
  let allGone = true;
  let allZero = true;
  let last: Costs | null = null;
  for (const n of sizes) {
    // The cost verdict rests on the largest size: it gets the C arm and the larger budget.
    const c = costs(n, n === LARGEST, n === LARGEST ? 10000 : 1000);
    const how = `process.hrtime, median of ${c.decision.n} interleaved trials`;
    ms.push(m(`MADV_DONTNEED of ${n} dirty pages`, Math.round(c.dontneedNs / 1000), 'µs', how));
    ms.push(m(`munmap+mmap of ${n} dirty pages`, Math.round(c.remapNs / 1000), 'µs', how));
    ms.push(m(`munmap+mmap / DONTNEED at ${n} pages`, Number(c.decision.median.toFixed(3)), 'x', `median of per-trial ratios; 95% interval [${fmtRatio(c.decision.low)}, ${fmtRatio(c.decision.high)}], ${c.decision.n} trials`));
    for (const [series, ns, all] of [[dnSeries, c.dontneedNs, c.dn], [rmSeries, c.remapNs, c.rm]] as const) {
      series.x.push(n);
      series.y.push(Math.round(ns / n));
      series.trials!.push(all.length);
      series.lo!.push(Math.round(Math.min(...all) / n));
      series.hi!.push(Math.round(Math.max(...all) / n));
    }
    if (c.residentDontneed !== 0 || c.residentRemap !== 0) allGone = false;
    if (c.zeros !== n) allZero = false;
    last = c;
  }
  const big = last!;
  ms.push(m(`MADV_DONTNEED of ${LARGEST} dirty pages, from C`, Math.round(big.cNs / 1000), 'µs', `pagewise_lab cbenchMadvise (clock_gettime around the call), median of ${big.decision.n} trials`));
  if (big.jsOverC) ms.push(m(`DONTNEED from JS / from C at ${LARGEST} pages`, Number(big.jsOverC.median.toFixed(3)), 'x', `median of per-trial ratios; 95% interval [${fmtRatio(big.jsOverC.low)}, ${fmtRatio(big.jsOverC.high)}]`));
  ms.push(m('resident after either, every size', allGone ? 0 : 'some', 'pages', 'mincore'));
  ms.push(m('pages reading zero after', allZero ? 'all' : 'not all', '', 'read back'));

  const vDn = scattered('dontneed', false);
  const vRm = scattered('remap', false);
  const vRmAdvised = scattered('remap', true);
  ms.push(m('mappings after DONTNEED of 64 scattered pages', vDn, 'VMAs', '/proc/self/maps'));
  ms.push(m('mappings after munmap+mmap of 64 scattered pages', vRm, 'VMAs', '/proc/self/maps'));
  ms.push(m('same, region carrying MADV_NOHUGEPAGE', vRmAdvised, 'VMAs', '/proc/self/maps'));
  ms.push(m('load average (1 min) during the trials', Number(big.decision.loadavg[1].toFixed(2)), '', 'os.loadavg()'));

  // MADV_FREE for contrast: lazy.
  let freeResident: number | null = null;
  let freeSurvived: number | null = null;
  const fpages = 256;
  if (adviceSupported('free')) {
    const region = mmap(fpages * page);
    try {
      touchPages(region.view(0, fpages * page), page, 0, fpages, 0xab);
      region.advise('free');
      freeResident = region.residentPages();
      freeSurvived = countValue(region.view(0, fpages * page), page, fpages, 0xab);
      readPages(region.view(0, fpages * page), page, 0, 1);
    } finally {
      region.unmap();
    }
  }
  ms.push(m(`resident right after MADV_FREE of ${fpages} dirty pages`, freeResident, 'pages', 'mincore'));
  ms.push(m(`pages whose contents survived MADV_FREE`, freeSurvived, 'pages', 'read back (no memory pressure)'));

  // Two parts: exact kernel facts (residency, zeros, mapping counts: no
  // statistics) and the cost, a statistical claim decided by the interval.
  const cost = costVerdict(big.decision, LARGEST);
  const splits =
    vRm > 1
      ? `munmap+mmap of 64 scattered pages left ${vRm} mappings where DONTNEED kept 1`
      : `munmap+mmap of 64 scattered pages re-merged into ${vRm} mapping (its flags matched the neighbours'), but once the region carries any advice or protection change (here MADV_NOHUGEPAGE) each remap stays separate: ${vRmAdvised} mappings where DONTNEED kept 1`;
  let verdict: Outcome['verdict'];
  let condition: string;
  if (!allGone || !allZero || vDn !== 1) {
    verdict = 'refuted';
    condition = `MADV_DONTNEED left ${vDn} mapping(s), pages resident: ${allGone ? 0 : 'some'}, zeros: ${allZero ? 'all' : 'not all'}`;
  } else if (vRm <= 1 && vRmAdvised <= 1) {
    verdict = 'refuted';
    condition = `munmap+mmap left ${vRm} mapping(s) even on an advised region: the kernel re-merged them; ${cost.text}`;
  } else if (cost.outcome === 'inconclusive') {
    verdict = 'depends';
    condition = `${splits}; the cost is ${cost.text}`;
  } else {
    verdict = cost.outcome === 'confirmed' ? 'confirmed' : 'refuted';
    condition = `${splits}; ${cost.text}`;
  }
  return {
    measurements: ms,
    verdict,
    condition,
    notes:
      'Both give the pages back at once (0 resident, zeros on the next read), and for a large dirty range both cost about what freeing the pages costs. ' +
      'DONTNEED keeps one mapping; munmap+mmap rebuilds mappings and can leave one VMA per hole. ' +
      'DONTNEED from JS is one Node-API call around the same system call a C loop makes (JS / C is reported). MADV_FREE is lazy: ' +
      `${freeResident ?? 'n/a'} of ${fpages} pages stayed resident and ${freeSurvived ?? 'n/a'} kept their contents without memory pressure.`,
    key: [`munmap+mmap / DONTNEED at ${LARGEST} pages`, `DONTNEED from JS / from C at ${LARGEST} pages`, 'mappings after munmap+mmap of 64 scattered pages', 'same, region carrying MADV_NOHUGEPAGE'],
    series: [dnSeries, rmSeries],
  };
}

/** Experiment 2: MADV_DONTNEED versus munmap + mmap. */
export const dontneedVsMunmap = defineExperiment(
  {
    id: 'dontneed-vs-munmap',
    number: 2,
    title: 'MADV_DONTNEED vs munmap+mmap',
    question: 'To give pages back but keep the address range: MADV_DONTNEED, or munmap followed by mmap?',
    claim: 'MADV_DONTNEED gives pages back (zero-fill on the next touch) and keeps one mapping; munmap+mmap of a large dirty range costs about the same (within 2x: freeing the pages dominates both) but can leave the kernel one mapping per hole.',
  },
  body,
);
