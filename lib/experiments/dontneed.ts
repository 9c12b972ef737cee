/** Experiment 2: MADV_DONTNEED versus munmap + mmap to give pages back but keep the range. */
import { mmap, type Mapping } from '../mapping';
import { lab, labMissing } from '../native/lab';
import { pageSize } from '../kernel/system';
import { adviceSupported } from '../mapping/flags';
import { readPages, touchPages } from '../measure/touch';
import { vmaCount } from '../measure/vmas';
import { median, nowNs } from './common';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import type { ExperimentMeasurement, Series } from './experiment';

function countValue(view: Uint8Array, page: number, pages: number, value: number): number {
  let n = 0;
  for (let i = 0; i < pages; i++) if (view[i * page] === value) n++;
  return n;
}

interface Costs { dontneed: number; remap: number; dn: number[]; rm: number[]; residentDontneed: number; residentRemap: number; zeros: number }

/** Medians (and the rounds, ns each) of giving back `pages` dirty pages both ways, interleaved round by round. */
function costs(pages: number, rounds: number): Costs {
  const page = pageSize();
  const len = pages * page;
  const region = mmap(len);
  try {
    const dn: number[] = [];
    const rm: number[] = [];
    let residentDontneed = -1;
    let residentRemap = -1;
    let zeros = 0;
    for (let r = 0; r < rounds; r++) {
      touchPages(region.view(0, len), page, 0, pages, 7);
      let t = nowNs();
      region.advise('dontneed', 0, len);
      dn.push(nowNs() - t);
      residentDontneed = region.residentPages();
      touchPages(region.view(0, len), page, 0, pages, 7);
      t = nowNs();
      lab.unmapRemap(region, 0, len, 0);
      rm.push(nowNs() - t);
      residentRemap = region.residentPages();
      zeros = countValue(region.view(0, len), page, pages, 0);
    }
    return { dontneed: median(dn), remap: median(rm), dn, rm, residentDontneed, residentRemap, zeros };
  } finally {
    region.unmap();
  }
}

/** Gives back every 4th page of a 256-page region in 64 scattered sub-ranges; returns the VMA count after. */
function scattered(how: 'dontneed' | 'remap', adviseFirst: boolean): number {
  const page = pageSize();
  const pages = 256;
  const region: Mapping = mmap(pages * page);
  try {
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
    const rounds = n >= LARGEST ? 3 : 7;
    const c = costs(n, rounds);
    const range = (xs: number[]): string => `process.hrtime, median of ${rounds} interleaved rounds (${Math.round(Math.min(...xs) / 1000)}..${Math.round(Math.max(...xs) / 1000)})`;
    ms.push(m(`MADV_DONTNEED of ${n} dirty pages`, Math.round(c.dontneed / 1000), 'µs', range(c.dn)));
    ms.push(m(`munmap+mmap of ${n} dirty pages`, Math.round(c.remap / 1000), 'µs', range(c.rm)));
    for (const [series, median, all] of [[dnSeries, c.dontneed, c.dn], [rmSeries, c.remap, c.rm]] as const) {
      series.x.push(n);
      series.y.push(Math.round(median / n));
      series.trials!.push(rounds);
      series.lo!.push(Math.round(Math.min(...all) / n));
      series.hi!.push(Math.round(Math.max(...all) / n));
    }
    if (c.residentDontneed !== 0 || c.residentRemap !== 0) allGone = false;
    if (c.zeros !== n) allZero = false;
    last = c;
  }
  ms.push(m('resident after either, every size', allGone ? 0 : 'some', 'pages', 'mincore'));
  ms.push(m('pages reading zero after', allZero ? 'all' : 'not all', '', 'read back'));

  const vDn = scattered('dontneed', false);
  const vRm = scattered('remap', false);
  const vRmAdvised = scattered('remap', true);
  ms.push(m('mappings after DONTNEED of 64 scattered pages', vDn, 'VMAs', '/proc/self/maps'));
  ms.push(m('mappings after munmap+mmap of 64 scattered pages', vRm, 'VMAs', '/proc/self/maps'));
  ms.push(m('same, region carrying MADV_NOHUGEPAGE', vRmAdvised, 'VMAs', '/proc/self/maps'));

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

  const bloats = vRm > 1 || vRmAdvised > 1;
  // Dearer only when every round of munmap+mmap took longer than every round
  // of DONTNEED: overlapping rounds are within this machine's noise.
  const lastCosts = last!;
  const dearer = Math.min(...lastCosts.rm) > Math.max(...lastCosts.dn);
  const us = (xs: number[]): string => `${Math.round(median(xs) / 1000)} µs [${Math.round(Math.min(...xs) / 1000)}, ${Math.round(Math.max(...xs) / 1000)}]`;
  const costWords =
    `at ${sizes[sizes.length - 1]} pages munmap+mmap took ${us(lastCosts.rm)} against ${us(lastCosts.dn)} for DONTNEED ` +
    `(median [min, max] of ${lastCosts.rm.length} rounds${dearer ? '' : ': the rounds overlap, so neither is shown dearer'})`;
  let verdict: Outcome['verdict'];
  let condition: string;
  if (!allGone || !allZero || vDn !== 1) {
    verdict = 'refuted';
    condition = `MADV_DONTNEED left ${vDn} mapping(s), pages resident: ${allGone ? 0 : 'some'}, zeros: ${allZero ? 'all' : 'not all'}`;
  } else if (vRm > 1 && dearer) {
    verdict = 'confirmed';
    condition = `munmap+mmap of 64 scattered pages left ${vRm} mappings where DONTNEED kept 1; ${costWords}`;
  } else if (bloats) {
    verdict = 'depends';
    condition =
      `munmap+mmap re-merges into ${vRm} mapping when the new mapping's flags match its neighbours; ` +
      `once the region carries any advice or protection change (here MADV_NOHUGEPAGE) each remap stays separate: ${vRmAdvised} mappings. ` +
      `${costWords.charAt(0).toUpperCase()}${costWords.slice(1)}`;
  } else {
    verdict = 'refuted';
    condition = `munmap+mmap left ${vRm} mapping(s): the kernel re-merged them`;
  }
  return {
    measurements: ms,
    verdict,
    condition,
    notes:
      'Both give the pages back at once (0 resident, zeros on the next read). DONTNEED keeps one mapping; ' +
      'munmap+mmap rebuilds mappings and can leave one VMA per hole. MADV_FREE is lazy: ' +
      `${freeResident ?? 'n/a'} of ${fpages} pages stayed resident and ${freeSurvived ?? 'n/a'} kept their contents without memory pressure.`,
    key: [`MADV_DONTNEED of ${LARGEST} dirty pages`, `munmap+mmap of ${LARGEST} dirty pages`, 'mappings after munmap+mmap of 64 scattered pages', 'same, region carrying MADV_NOHUGEPAGE'],
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
    claim: 'MADV_DONTNEED gives pages back (zero-fill on the next touch) and keeps one mapping; munmap+mmap costs more and bloats the kernel\'s mapping structures.',
  },
  body,
);
