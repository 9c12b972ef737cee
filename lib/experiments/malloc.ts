/** Experiment 4: how glibc malloc gets memory. */
import { pageSize } from '../kernel/system';
import { fmtBytes } from '../format';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import { probeJson, probeMissing } from './probe';
import type { ExperimentMeasurement, Series } from './experiment';

interface Steps {
  mallocs: number;
  size: number;
  breakMoves: number;
  minStep: number;
  maxStep: number;
  heapGrowth: number;
}
interface Alloc {
  label: string;
  size: number;
  topFree: number;
  inHeap: boolean;
  breakMoved: number;
  mmappedBytes: number;
}
interface Threshold {
  threshold: number;
  allocs: Alloc[];
}
interface Mallopt {
  mallopt: number;
  threshold: number;
  allocs: Alloc[];
}
interface Dynamic {
  size: number;
  firstInHeap: boolean;
  secondInHeap: boolean;
  secondBreakMoved: number;
}

function body(): Outcome {
  const missing = probeMissing();
  if (missing) return skippedOutcome(missing);
  const ms: ExperimentMeasurement[] = [];
  const n = 10000;
  const s = probeJson<Steps>(['malloc-steps', String(n), '100']);
  ms.push(m(`mallocs of ${s.size} bytes`, s.mallocs, 'calls', 'pagewise-probe'));
  ms.push(m('break moves (brk system calls) they caused', s.breakMoves, 'moves', 'pagewise-probe: sbrk(0) after each malloc'));
  ms.push(m('break step', s.minStep === s.maxStep ? s.minStep : `${s.minStep}..${s.maxStep}`, 'bytes', 'pagewise-probe'));
  ms.push(m('heap growth', s.heapGrowth, 'bytes', 'pagewise-probe'));

  const t = probeJson<Threshold>(['threshold']);
  // glibc compares the chunk size (request + 8, rounded up to 16) with the threshold.
  const chunk = (size: number): number => Math.max(32, Math.ceil((size + 8) / 16) * 16);
  let thresholdHolds = true;
  // For the report: what one malloc took from the kernel, by request size.
  const taken: Series = { name: 'bytes taken from the kernel', x: [], y: [], labels: [], xUnit: 'request', yUnit: 'bytes' };
  for (const a of t.allocs) {
    taken.x.push(a.size);
    taken.y.push(a.inHeap ? a.breakMoved : a.mmappedBytes);
    taken.labels!.push(`${a.label}: ${a.inHeap ? 'heap' : 'own mmap'}`);
    const where = a.inHeap ? `heap (break moved ${fmtBytes(a.breakMoved)})` : `own mmap (${fmtBytes(a.mmappedBytes)} mapped)`;
    ms.push(m(`malloc(${a.label}) in a fresh process`, where, '', 'pagewise-probe: address vs break, mallinfo2().hblkhd'));
    const expectMmap = chunk(a.size) >= t.threshold;
    if (expectMmap === a.inHeap || (!a.inHeap && a.breakMoved !== 0)) thresholdHolds = false;
  }
  const o = probeJson<Mallopt>(['mallopt', String(256 * 1024), String(1024 * 1024)]);
  const moved = o.mallopt === 1 && o.allocs[0]?.inHeap === true;
  ms.push(m('malloc(256 KiB) after mallopt(M_MMAP_THRESHOLD, 1 MiB)', o.allocs[0]?.inHeap ? 'heap' : 'own mmap', '', 'pagewise-probe'));
  const d = probeJson<Dynamic>(['dynamic', String(256 * 1024)]);
  const dynamic = !d.firstInHeap && d.secondInHeap;
  ms.push(m('malloc(256 KiB), free, malloc(256 KiB) again', `${d.firstInHeap ? 'heap' : 'own mmap'}, then ${d.secondInHeap ? 'heap' : 'own mmap'}`, '', 'pagewise-probe'));

  const few = s.breakMoves > 0 && s.breakMoves * 100 <= s.mallocs;
  const verdict: Outcome['verdict'] = few && thresholdHolds && moved ? 'confirmed' : few ? 'depends' : 'refuted';
  const page = pageSize();
  return {
    measurements: ms,
    verdict,
    condition:
      `${s.mallocs} mallocs moved the break ${s.breakMoves} times, ${fmtBytes(s.minStep)} (${Math.round(s.minStep / page)} pages) each: the request plus M_TOP_PAD (128 KiB); ` +
      `requests whose chunk reaches M_MMAP_THRESHOLD (${fmtBytes(t.threshold)}) got their own mapping${thresholdHolds ? '' : ' (not every one here: see the measurements)'}; ` +
      `mallopt moved the threshold${moved ? '' : ' (not observed)'}; freeing a mapped block raised it dynamically${dynamic ? '' : ' (not observed)'}`,
    notes:
      'In a fresh single-threaded process. A request at or above the threshold is mmapped only when the top of the heap cannot serve it; ' +
      'after free() of a mapped block glibc raises the threshold to that block\'s size (up to 32 MiB on 64-bit), so the same request then comes from the heap.',
    key: ['break moves (brk system calls) they caused', 'break step', 'malloc(128 KiB) in a fresh process', 'malloc(256 KiB), free, malloc(256 KiB) again'],
    series: [taken],
  };
}

/** Experiment 4: how malloc gets memory. */
export const mallocBrk = defineExperiment(
  {
    id: 'malloc-brk',
    number: 4,
    title: 'How malloc gets memory',
    question: 'How does glibc malloc get memory from the kernel, and how many system calls do N mallocs cost?',
    claim: 'Small requests come from the brk heap, grown in large steps (M much smaller than N); requests at or above M_MMAP_THRESHOLD (128 KiB) get their own mmap; mallopt moves the threshold.',
  },
  body,
);
