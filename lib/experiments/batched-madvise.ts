/** Experiment 12: is process_madvise batching worth it on memory written from JS? */
import { mmap, type Mapping } from '../mapping';
import { pageSize } from '../kernel/system';
import { adviseMany } from '../process/advise-many';
import { kernelHas, FEATURE_MINIMUM } from '../kernel/features';
import { nowNs } from './common';
import { showSpread, side, spread, type Spread } from './trials';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import type { ExperimentMeasurement, Series } from './experiment';

/** One round: writes the mapping from JS, gives back every other page (n ranges) one way; ns per range and pages left resident. */
function round(map: Mapping, n: number, batched: boolean): { ns: number; resident: number } {
  const page = pageSize();
  const ranges = Array.from({ length: n }, (_, i) => [map, 2 * i * page, page] as const);
  map.view().fill(1); // written from JS: V8's threads have the pages in their TLBs
  const t = nowNs();
  if (batched) adviseMany(ranges, 'dontneed');
  else for (const [mm, o, l] of ranges) mm.advise('dontneed', o, l);
  const ns = (nowNs() - t) / n;
  return { ns, resident: map.residentPages() };
}

/**
 * Interleaved rounds (loop, batched, loop, batched, ...) after a warm-up round each, over two mappings
 * of 2n pages: the ns per range of each round, both ways, and whether every
 * round left exactly the n pages not given back.
 */
function paired(n: number, rounds: number): { loop: number[]; batch: number[]; exact: boolean } {
  const page = pageSize();
  const a = mmap(2 * n * page);
  const b = mmap(2 * n * page);
  try {
    const loop: number[] = [];
    const batch: number[] = [];
    let exact = true;
    // One round each way first, not counted: the first writes fault the pages in and warm the JIT.
    round(a, n, false);
    round(b, n, true);
    for (let r = 0; r < rounds; r++) {
      const l = round(a, n, false);
      const x = round(b, n, true);
      loop.push(l.ns);
      batch.push(x.ns);
      if (l.resident !== n || x.resident !== n) exact = false;
    }
    return { loop, batch, exact };
  } finally {
    a.unmap();
    b.unmap();
  }
}

function body(): Outcome {
  if (!kernelHas('processMadvise')) return skippedOutcome(`process_madvise needs ${FEATURE_MINIMUM.processMadvise}`);
  const ms: ExperimentMeasurement[] = [];
  const counts = [10, 100, 1000];
  const series: Series[] = [
    { name: 'one madvise per range', x: [], y: [], xUnit: 'ranges', yUnit: 'ns/range', trials: [], lo: [], hi: [] },
    { name: 'process_madvise (batched)', x: [], y: [], xUnit: 'ranges', yUnit: 'ns/range', trials: [], lo: [], hi: [] },
  ];
  // Per count: the batched / loop ratio of each round pair, and where its range lies against 0.5.
  const ratios: Spread[] = [];
  let exact = true;
  for (const n of counts) {
    const rounds = n >= 1000 ? 5 : 9;
    const p = paired(n, rounds);
    if (!p.exact) exact = false;
    const loop = spread(p.loop);
    const batch = spread(p.batch);
    const ratio = spread(p.batch.map((x, i) => x / p.loop[i]!));
    const src = (s: Spread): string => `process.hrtime, median of ${rounds} interleaved rounds (${Math.round(s.min)}..${Math.round(s.max)})`;
    ms.push(m(`per range, one madvise each, ${n} ranges`, Math.round(loop.median), 'ns', src(loop)));
    ms.push(m(`per range, process_madvise, ${n} ranges`, Math.round(batch.median), 'ns', src(batch)));
    ms.push(m(`batched / loop at ${n} ranges`, Number(ratio.median.toFixed(3)), 'x', `median of ${rounds} paired rounds`));
    ms.push(m(`batched / loop at ${n} ranges, lowest round`, Number(ratio.min.toFixed(3)), 'x', `${rounds} paired rounds`));
    ms.push(m(`batched / loop at ${n} ranges, highest round`, Number(ratio.max.toFixed(3)), 'x', `${rounds} paired rounds`));
    for (const [s, sp] of [[series[0]!, loop], [series[1]!, batch]] as const) {
      s.x.push(n);
      s.y.push(Math.round(sp.median));
      s.trials!.push(sp.n);
      s.lo!.push(Math.round(sp.min));
      s.hi!.push(Math.round(sp.max));
    }
    ratios.push(ratio);
  }
  ms.push(m('resident after, every size and way', exact ? 'half the pages (the ranges given back)' : 'not exact', '', 'mincore'));
  const big = ratios[ratios.length - 1]!;
  const small = ratios[0]!;
  const bigSide = side(big, 0.5);
  const smallSide = side(small, 0.5);
  const x = (s: Spread): string => showSpread(s, (v) => `${v.toFixed(2)}x`);
  const lastN = counts[counts.length - 1];
  let verdict: Outcome['verdict'];
  let condition: string;
  if (!exact) {
    verdict = 'refuted';
    condition = 'the batched call did not give back exactly the ranges asked';
  } else if (bigSide === 'below' && smallSide === 'below') {
    verdict = 'confirmed';
    condition = `batched took ${x(small)} the loop's time at ${counts[0]} ranges and ${x(big)} at ${lastN}: every round pair under half`;
  } else if (bigSide === 'below' && smallSide === 'above') {
    verdict = 'depends';
    condition = `worth it with many ranges (at ${lastN}, batched took ${x(big)} the loop's time), not with few (at ${counts[0]}, ${x(small)})`;
  } else if (bigSide === 'above') {
    verdict = 'refuted';
    condition = `at ${lastN} ranges batched took ${x(big)} the loop's time: every round pair over half`;
  } else {
    verdict = 'depends';
    condition = `inconclusive: batched / loop time spans the 0.5 threshold (at ${counts[0]} ranges ${x(small)}, at ${lastN} ${x(big)})`;
  }
  return {
    measurements: ms,
    verdict,
    condition,
    notes:
      'Each madvise(MADV_DONTNEED) of memory that other threads of the process may have in their TLBs ends in a TLB shootdown; ' +
      'one process_madvise over many ranges pays it once per call. Node always has other threads (V8 workers, libuv). ' +
      'The two ways alternate round by round; the claim is called only where every round pair lies on one side of half.',
    key: counts.map((n) => `batched / loop at ${n} ranges`),
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
    claim: 'Batching the ranges into one process_madvise costs a fraction of a madvise per range, because each call pays a TLB shootdown.',
  },
  body,
);
