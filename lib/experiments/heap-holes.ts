/** Experiment 5: heap holes and malloc_trim. */
import { fmtBytes, gaveBack } from '../format';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import { probeJson, probeMissing } from './probe';
import type { ExperimentMeasurement, Series } from './experiment';

interface Stage {
  label: string;
  freed: number;
  rss: number;
  break: number;
}
interface Holes {
  objects: number;
  size: number;
  stages: Stage[];
  trimReturned: number;
  trimMicros: number;
}

function body(): Outcome {
  const missing = probeMissing();
  if (missing) return skippedOutcome(missing);
  const h = probeJson<Holes>(['heap-holes', '50000', '1000']);
  const at = (label: string): Stage => {
    const s = h.stages.find((x) => x.label === label);
    if (!s) throw new Error(`pagewise-probe heap-holes: no stage '${label}'`);
    return s;
  };
  const start = at('start');
  const peak = at('allocated');
  const half = at('freed 50%');
  const trim = at('malloc_trim(0)');
  const all = at('freed all');
  const again = at('malloc_trim(0) again');
  const ms: ExperimentMeasurement[] = [];
  const freedBytes = (h.objects / 2) * h.size;
  ms.push(m('objects', `${h.objects} x ${h.size} B`, '', 'pagewise-probe'));
  ms.push(m('RSS growth at peak', peak.rss - start.rss, 'bytes', 'pagewise-probe: smaps_rollup'));
  ms.push(m('RSS given back by freeing half at random', peak.rss - half.rss, 'bytes', 'pagewise-probe: smaps_rollup'));
  ms.push(m('RSS given back by malloc_trim(0)', half.rss - trim.rss, 'bytes', 'pagewise-probe: smaps_rollup'));
  ms.push(m('malloc_trim(0) time', h.trimMicros, 'µs', 'pagewise-probe: CLOCK_MONOTONIC'));
  ms.push(m('RSS given back by freeing the rest', trim.rss - all.rss, 'bytes', 'pagewise-probe: smaps_rollup'));
  ms.push(m('break lowered by freeing the rest', trim.break - all.break, 'bytes', 'pagewise-probe: sbrk(0)'));
  ms.push(m('RSS given back by a second malloc_trim(0)', all.rss - again.rss, 'bytes', 'pagewise-probe: smaps_rollup'));
  const series: Series = {
    name: 'probe RSS',
    x: h.stages.map((_, i) => i),
    y: h.stages.map((s) => s.rss),
    labels: h.stages.map((s) => s.label),
    xUnit: 'stage',
    yUnit: 'bytes',
  };
  const grown = peak.rss - start.rss;
  const holdsAfterHalf = peak.rss - half.rss <= grown * 0.05;
  const trimPartial = half.rss - trim.rss > 0 && half.rss - trim.rss < freedBytes;
  const shrinks = all.break < trim.break && again.rss - start.rss < grown * 0.1;
  const verdict: Outcome['verdict'] = holdsAfterHalf && shrinks ? 'confirmed' : 'refuted';
  return {
    measurements: ms,
    verdict,
    condition:
      `freeing half (${fmtBytes(freedBytes)}) ${gaveBack(peak.rss - half.rss)}; malloc_trim(0) ${gaveBack(half.rss - trim.rss)} ` +
      `(${Math.round(((half.rss - trim.rss) / freedBytes) * 100)}% of what was freed: only whole pages inside free chunks${trimPartial ? '' : ', not observed'}); ` +
      `freeing the rest lowered the break by ${fmtBytes(trim.break - all.break)} and a second trim returned RSS to ${fmtBytes(again.rss - start.rss)} above the start`,
    notes:
      'RSS stays at its peak while the holes are scattered: free() keeps memory in the heap for reuse. The top shrinks only down to the highest chunk still ' +
      'in use (tcache keeps up to 7 freed chunks per size, which pin it); malloc_trim(0) releases whole free pages anywhere in the heap with MADV_DONTNEED.',
    key: ['RSS growth at peak', 'RSS given back by freeing half at random', 'RSS given back by malloc_trim(0)', 'RSS given back by a second malloc_trim(0)'],
    series: [series],
  };
}

/** Experiment 5: heap holes. */
export const heapHoles = defineExperiment(
  {
    id: 'heap-holes',
    number: 5,
    title: 'Heap holes and malloc_trim',
    question: 'Allocate many small objects and free half at random: does RSS drop? What does malloc_trim do?',
    claim: 'Freed heap memory is kept by the allocator: RSS stays near its peak until the top of the heap is freed or malloc_trim releases whole free pages.',
  },
  body,
);
