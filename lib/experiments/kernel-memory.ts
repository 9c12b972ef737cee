/** Experiment 8: kernel memory is not your RSS. */
import { fmtBytes } from '../format';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import { probeJson, probeMissing } from './probe';
import type { ExperimentMeasurement } from './experiment';
import { decide, inconclusiveText, showDecision } from './trials';

interface Kmem {
  pipes: number;
  fillBytes: number;
  written: number;
  slabNoise: number;
  slab: number[];
  sunreclaim: number[];
  memFree: number[];
  rss: number[];
  fewPipes: number;
  fewPipesSlabDelta: number;
  pageSize: number;
}

function body(): Outcome {
  const missing = probeMissing();
  if (missing) return skippedOutcome(missing);
  const at = (a: number[], i: number): number => a[i] ?? NaN;
  // Each trial is one probe run. Its RSS changes are exact (the probe's own pages); Slab is system-wide, so the
  // growth creating the pipes is judged against the idle noise the same run measured, over trials: confirmed when
  // the interval of the median growth-over-noise lies at 3 or more.
  const runs: Kmem[] = [];
  const grew = decide({
    holds: [3, Infinity],
    warmup: 0,
    minTrials: 7,
    trial: () => {
      const r = probeJson<Kmem>(['kernel-memory', '1000', '65536']);
      runs.push(r);
      return (at(r.slab, 1) - at(r.slab, 0)) / Math.max(r.slabNoise, r.pageSize);
    },
  });
  // The run shown is the median one by Slab growth; the RSS figures are the largest of any run (the claim: none).
  const byGrowth = [...runs].sort((x, y) => at(x.slab, 1) - at(x.slab, 0) - (at(y.slab, 1) - at(y.slab, 0)));
  const k = byGrowth[byGrowth.length >> 1]!;
  const worst = (f: (r: Kmem) => number): number => runs.map(f).reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
  const slabCreate = at(k.slab, 1) - at(k.slab, 0);
  const slabFill = at(k.slab, 2) - at(k.slab, 1);
  const rssCreate = worst((r) => at(r.rss, 1) - at(r.rss, 0));
  const rssFill = worst((r) => at(r.rss, 2) - at(r.rss, 1));
  const freeFill = at(k.memFree, 1) - at(k.memFree, 2);
  const ms: ExperimentMeasurement[] = [];
  ms.push(m('pipes created', k.pipes, 'pipes', 'pagewise-probe'));
  ms.push(m('Slab noise, idle', k.slabNoise, 'bytes', '/proc/meminfo, 6 samples over 100 ms'));
  ms.push(m('Slab change creating them', slabCreate, 'bytes', '/proc/meminfo'));
  ms.push(m('SUnreclaim change creating them', at(k.sunreclaim, 1) - at(k.sunreclaim, 0), 'bytes', '/proc/meminfo'));
  ms.push(m('process RSS change creating them', rssCreate, 'bytes', 'pagewise-probe: smaps_rollup'));
  ms.push(m('bytes written into the pipes', k.written, 'bytes', 'pagewise-probe'));
  ms.push(m('MemFree drop filling them', freeFill, 'bytes', '/proc/meminfo'));
  ms.push(m('Slab change filling them', slabFill, 'bytes', '/proc/meminfo'));
  ms.push(m('process RSS change filling them', rssFill, 'bytes', 'pagewise-probe: smaps_rollup'));
  ms.push(m(`Slab change creating ${k.fewPipes} pipes`, k.fewPipesSlabDelta, 'bytes', '/proc/meminfo'));
  ms.push(m('Slab change creating them over the idle noise', showDecision(grew, (v) => `${v.toFixed(1)}x`, 'probe runs'), '', '/proc/meminfo, per run'));
  const notRss = Math.abs(rssCreate) <= 2 * k.pageSize && Math.abs(rssFill) <= 2 * k.pageSize;
  const verdict: Outcome['verdict'] = !notRss ? 'refuted' : grew.outcome === 'confirmed' ? 'confirmed' : 'depends';
  return {
    measurements: ms,
    verdict,
    condition:
      (notRss && grew.outcome === 'inconclusive' ? `${inconclusiveText('Slab growth creating the pipes over the idle noise:', grew, 'three times the noise', (v) => `${v.toFixed(1)}x`, 'probe runs')}; ` : '') +
      `${k.pipes} pipes raised Slab by ${fmtBytes(slabCreate)} (idle noise ${fmtBytes(k.slabNoise)}, ~${Math.round(slabCreate / Math.max(1, k.pipes))} B per pipe) and the process RSS by ${fmtBytes(rssCreate)}; ` +
      `${fmtBytes(k.written)} of pipe data took ${fmtBytes(freeFill)} from MemFree (whole pages, outside Slab) and ${fmtBytes(rssFill)} of RSS; ` +
      `${k.fewPipes} pipes moved Slab by ${fmtBytes(k.fewPipesSlabDelta)}: kmalloc served them from slab pages already there`,
    notes: 'Kernel objects are charged to the kernel (Slab, or plain pages for pipe buffers), not to the RSS of the process that made them; only a memory cgroup or /proc/meminfo shows them.',
    key: ['Slab change creating them', 'Slab noise, idle', 'process RSS change creating them', 'MemFree drop filling them'],
  };
}

/** Experiment 8: kernel memory is not RSS. */
export const kernelMemory = defineExperiment(
  {
    id: 'kernel-memory',
    number: 8,
    title: 'Kernel memory is not your RSS',
    question: 'Where does the memory of kernel objects a process creates (pipes) show up?',
    claim: 'Kernel objects raise the slab counters in /proc/meminfo, not the process\'s RSS; kmalloc serves small objects from already reserved slab pages.',
  },
  body,
);
