/** Experiment 12: is process_madvise batching worth it on memory written from JS? */
import { mmap, type Mapping } from '../mapping';
import { pageSize } from '../kernel/system';
import { adviseMany } from '../process/advise-many';
import { kernelHas, FEATURE_MINIMUM } from '../kernel/features';
import { costWords, median, nowNs } from './common';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import type { ExperimentMeasurement, Series } from './experiment';
import { decideAll, fmtRatio, inconclusiveText, showDecision, showLoad, type Decision } from './trials';
import { labMissing, nativeLab } from '../native/lab';

/** The C loop of the lab binary (native/lab/cbench.cc), when this build has it. */
type CRanges = (address: bigint, length: number, count: number, batched: number) => number;
function cRanges(): CRanges | null {
  if (labMissing()) return null;
  const lab = nativeLab();
  // A lab binary built before the function existed (an old prebuild) has no C arm.
  if (typeof lab.cbenchDontneedRanges !== 'function') return null;
  return (address, length, count, batched) => lab.cbenchDontneedRanges(address, length, count, batched);
}

/** Where the claim holds: batched / loop below 1. */
const HOLDS = [0, 1] as const;

interface Sized {
  n: number;
  decision: Decision;
  /** The same from C (one madvise per range vs one process_madvise, no Node-API in between), when measured. */
  c: Decision | null;
  loopNs: number;
  batchNs: number;
  /** Every trial's ns per range, each way (the chart's spread). */
  loops: number[];
  batches: number[];
  exact: boolean;
}

/**
 * One size: a 2n-page mapping, every other page a range. Each trial dirties
 * the pages from JS (a view made once, outside the timed part: creating
 * views and their GC are not what is measured), gives the n ranges back one
 * madvise each, dirties them again and gives them back with one
 * process_madvise, in alternating order, and yields batched / loop.
 */
function measure(n: number, budgetMs: number, withC: boolean): Sized {
  const page = pageSize();
  const map: Mapping = mmap(2 * n * page);
  try {
    map.advise('nohugepage'); // one 4K page per range, whatever the THP mode
    const view = map.view();
    const ranges = Array.from({ length: n }, (_, i) => [map, 2 * i * page, page] as const);
    const loops: number[] = [];
    const batches: number[] = [];
    let exact = true;
    const loop = (): number => {
      view.fill(1);
      const t = nowNs();
      for (const [mm, o, l] of ranges) mm.advise('dontneed', o, l);
      const ns = nowNs() - t;
      if (map.residentPages() !== n) exact = false;
      return ns;
    };
    const batch = (): number => {
      view.fill(1);
      const t = nowNs();
      adviseMany(ranges, 'dontneed');
      const ns = nowNs() - t;
      if (map.residentPages() !== n) exact = false;
      return ns;
    };
    const c = withC ? cRanges() : null;
    const [decision, cDecision] = decideAll({
      holds: HOLDS,
      budgetMs,
      trial: (flip) => {
        let cRatio: number[] = [];
        if (c) {
          const cl = c(map.address, map.length, n, 0);
          const cb = c(map.address, map.length, n, 1);
          cRatio = [cb / cl];
        }
        let a: number;
        let b: number;
        if (flip) {
          b = batch();
          a = loop();
        } else {
          a = loop();
          b = batch();
        }
        loops.push(a / n);
        batches.push(b / n);
        return [b / a, ...cRatio];
      },
    });
    return { n, decision: decision!, c: cDecision ?? null, loopNs: median(loops), batchNs: median(batches), loops, batches, exact };
  } finally {
    map.unmap();
  }
}

/** The verdict and its condition from the decision at the largest size (exported for the wording test). */
export function batchedVerdict(d: Decision, n: number, c: Decision | null = null): { verdict: Outcome['verdict']; condition: string } {
  const fromC = c ? `; from C in the same trials ${fmtRatio(c.median)} (${costWords(c.median, 1)}), 95% interval [${fmtRatio(c.low)}, ${fmtRatio(c.high)}]` : '';
  const said = `one process_madvise of ${n} scattered dirty pages costs ${fmtRatio(d.median)} the time of one madvise per page from JS (${costWords(d.median, 1)}); ${showDecision(d)}${fromC}, ${showLoad(d)}`;
  const open = [d, ...(c ? [c] : [])].find((x) => x.outcome === 'inconclusive');
  if (open) return { verdict: 'depends', condition: inconclusiveText(`batched / loop at ${n} ranges${open === c ? ', from C' : ''}:`, open, 'the 1x threshold') };
  if (d.outcome === 'refuted' || c?.outcome === 'refuted') return { verdict: 'refuted', condition: said };
  return { verdict: 'confirmed', condition: said };
}

function body(): Outcome {
  if (!kernelHas('processMadvise')) return skippedOutcome(`process_madvise needs ${FEATURE_MINIMUM.processMadvise}`);
  const ms: ExperimentMeasurement[] = [];
  const counts = [10, 100, 1000];
  const series: Series[] = [
    { name: 'one madvise per range', x: [], y: [], xUnit: 'ranges', yUnit: 'ns/range', trials: [], lo: [], hi: [] },
    { name: 'process_madvise (batched)', x: [], y: [], xUnit: 'ranges', yUnit: 'ns/range', trials: [], lo: [], hi: [] },
  ];
  let exact = true;
  let last: Sized | null = null;
  for (const n of counts) {
    // The verdict rests on the largest size: it gets the larger budget.
    const largest = n === counts[counts.length - 1];
    const s = measure(n, largest ? 6000 : 1500, largest);
    if (!s.exact) exact = false;
    const d = s.decision;
    ms.push(m(`per range, one madvise each, ${n} ranges`, Math.round(s.loopNs), 'ns', `process.hrtime, median of ${d.n} interleaved trials`));
    ms.push(m(`per range, process_madvise, ${n} ranges`, Math.round(s.batchNs), 'ns', `process.hrtime, median of ${d.n} interleaved trials`));
    ms.push(m(`batched / loop at ${n} ranges`, Number(d.median.toFixed(3)), 'x', `median of per-trial ratios; 95% interval [${fmtRatio(d.low)}, ${fmtRatio(d.high)}], ${d.n} trials`));
    for (const [k, ns, all] of [[0, s.loopNs, s.loops], [1, s.batchNs, s.batches]] as const) {
      series[k]!.x.push(n);
      series[k]!.y.push(Math.round(ns));
      series[k]!.trials!.push(all.length);
      series[k]!.lo!.push(Math.round(Math.min(...all)));
      series[k]!.hi!.push(Math.round(Math.max(...all)));
    }
    last = s;
  }
  ms.push(m('resident after, every size and way', exact ? 'half the pages (the ranges given back)' : 'not exact', '', 'mincore'));
  const big = last!;
  ms.push(m(`interval of batched / loop at ${big.n} ranges`, `[${fmtRatio(big.decision.low)}, ${fmtRatio(big.decision.high)}]`, '', `95% order-statistic interval of the median, ${big.decision.n} trials`));
  if (big.c) ms.push(m(`batched / loop at ${big.n} ranges, from C`, Number(big.c.median.toFixed(3)), 'x', `pagewise_lab cbenchDontneedRanges in the same trials; 95% interval [${fmtRatio(big.c.low)}, ${fmtRatio(big.c.high)}]`));
  ms.push(m('load average (1 min) during the trials', Number(big.decision.loadavg[1].toFixed(2)), '', 'os.loadavg()'));
  const { verdict, condition } = exact
    ? batchedVerdict(big.decision, big.n, big.c)
    : { verdict: 'refuted' as const, condition: 'a call did not give back exactly the ranges asked (mincore)' };
  return {
    measurements: ms,
    verdict,
    condition,
    notes:
      'Zapping dirty pages costs the same whichever call does it; what one process_madvise saves is the per-call overhead of the loop ' +
      '(the system call, the mmap_lock, a TLB flush per call), paid once instead of once per range. With few ranges the two cost about the same. ' +
      'The pages are written from JS through one view made before the trials, so neither side pays for creating views or collecting them. ' +
      'The same two ways from C (the lab binary, no Node-API in between) run in the same trials: the claim must hold for both.',
    key: [...counts.map((n) => `batched / loop at ${n} ranges`), `interval of batched / loop at ${big.n} ranges`, ...(big.c ? [`batched / loop at ${big.n} ranges, from C`] : [])],
    series,
  };
}

/** Experiment 12: process_madvise batching. */
export const batchedMadvise = defineExperiment(
  {
    id: 'batched-madvise',
    number: 12,
    title: 'Is process_madvise batching worth it?',
    question: 'Giving back many scattered ranges of memory written from JS: one madvise per range, or one process_madvise for all (Linux 6.13)?',
    claim: 'Giving back 1,000 scattered dirty ranges with one process_madvise costs less than one madvise per range: batching saves the per-call overhead (zapping the pages costs the same either way).',
  },
  body,
);
