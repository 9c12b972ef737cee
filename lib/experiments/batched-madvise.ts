/** Experiment 12: is process_madvise batching worth it on memory written from JS? */
import { mmap } from '../mapping';
import { pageSize } from '../kernel/system';
import { adviseMany } from '../process/advise-many';
import { kernelHas, FEATURE_MINIMUM } from '../kernel/features';
import { median, nowNs } from './common';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import type { ExperimentMeasurement, Series } from './experiment';

function perRange(n: number, batched: boolean, rounds: number): { ns: number; resident: number } {
  const page = pageSize();
  const map = mmap(2 * n * page);
  try {
    const ranges = Array.from({ length: n }, (_, i) => [map, 2 * i * page, page] as const);
    const times: number[] = [];
    let resident = -1;
    for (let r = 0; r < rounds; r++) {
      map.view().fill(1); // written from JS: V8's threads have the pages in their TLBs
      const t = nowNs();
      if (batched) adviseMany(ranges, 'dontneed');
      else for (const [mm, o, l] of ranges) mm.advise('dontneed', o, l);
      times.push((nowNs() - t) / n);
      resident = map.residentPages();
    }
    return { ns: median(times), resident };
  } finally {
    map.unmap();
  }
}

function body(): Outcome {
  if (!kernelHas('processMadvise')) return skippedOutcome(`process_madvise needs ${FEATURE_MINIMUM.processMadvise}`);
  const ms: ExperimentMeasurement[] = [];
  const counts = [10, 100, 1000];
  const series: Series[] = [
    { name: 'one madvise per range', x: [], y: [], xUnit: 'ranges', yUnit: 'ns/range' },
    { name: 'process_madvise (batched)', x: [], y: [], xUnit: 'ranges', yUnit: 'ns/range' },
  ];
  const ratios: number[] = [];
  let exact = true;
  for (const n of counts) {
    const rounds = n >= 1000 ? 3 : 7;
    const loop = perRange(n, false, rounds);
    const batch = perRange(n, true, rounds);
    if (loop.resident !== n || batch.resident !== n) exact = false;
    ms.push(m(`per range, one madvise each, ${n} ranges`, Math.round(loop.ns), 'ns', 'process.hrtime (median)'));
    ms.push(m(`per range, process_madvise, ${n} ranges`, Math.round(batch.ns), 'ns', 'process.hrtime (median)'));
    ms.push(m(`batched / loop at ${n} ranges`, Number((batch.ns / loop.ns).toFixed(3)), 'x', 'ratio of medians'));
    series[0]!.x.push(n);
    series[0]!.y.push(Math.round(loop.ns));
    series[1]!.x.push(n);
    series[1]!.y.push(Math.round(batch.ns));
    ratios.push(batch.ns / loop.ns);
  }
  ms.push(m('resident after, every size and way', exact ? 'half the pages (the ranges given back)' : 'not exact', '', 'mincore'));
  const big = ratios[ratios.length - 1]!;
  const small = ratios[0]!;
  let verdict: Outcome['verdict'];
  let condition: string;
  if (!exact) {
    verdict = 'refuted';
    condition = 'the batched call did not give back exactly the ranges asked';
  } else if (big < 0.5 && small < 0.5) {
    verdict = 'confirmed';
    condition = `batched costs ${small.toFixed(2)}x the loop at ${counts[0]} ranges and ${big.toFixed(2)}x at ${counts[counts.length - 1]}`;
  } else if (big < 0.5) {
    verdict = 'depends';
    condition = `worth it with many ranges (${big.toFixed(2)}x at ${counts[counts.length - 1]}), not with few (${small.toFixed(2)}x at ${counts[0]})`;
  } else {
    verdict = 'refuted';
    condition = `batched costs ${big.toFixed(2)}x the loop at ${counts[counts.length - 1]} ranges`;
  }
  return {
    measurements: ms,
    verdict,
    condition,
    notes:
      'Each madvise(MADV_DONTNEED) of memory that other threads of the process may have in their TLBs ends in a TLB shootdown; ' +
      'one process_madvise over many ranges pays it once per call. Node always has other threads (V8 workers, libuv).',
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
