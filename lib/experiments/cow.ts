/** Experiment 7: copy-on-write after fork. */
import { mmap } from '../mapping';
import { native, type RegionHandle } from '../native';
import { pageSize } from '../system';
import { touchPages } from '../measure/touch';
import { defineExperiment, m, type Outcome } from './define';
import type { ExperimentMeasurement } from './experiment';

/** Result of the native fork probe (native/probe.cc). @internal */
export interface CowResult {
  pages: number;
  writes: number;
  childReadFaults: number;
  childWriteFaults: number;
  childExitCode: number;
  childSignal: number;
  presentBefore: number;
  exclusiveBefore: number;
  presentWhileChild: number;
  exclusiveWhileChild: number;
  presentAfter: number;
  exclusiveAfter: number;
}

const cowProbe = native.cowProbe as (r: RegionHandle, offset: number, length: number, k: number) => CowResult;

/** Runs the fork probe over `pages` dirty pages, the child writing `writes` of them. @internal */
export function runCow(pages: number, writes: number): CowResult {
  const page = pageSize();
  const region = mmap(pages * page);
  try {
    region.advise('nohugepage');
    touchPages(region.view(0, pages * page), page, 0, pages, 5);
    return cowProbe(region.region, 0, pages * page, writes);
  } finally {
    region.unmap();
  }
}

function body(): Outcome {
  const n = 256;
  const k = 32;
  const r = runCow(n, k);
  const ms: ExperimentMeasurement[] = [];
  ms.push(m('pages dirtied by the parent before fork', r.pages, 'pages', 'pagewise'));
  ms.push(m('child faults reading all of them', r.childReadFaults, 'faults', 'getrusage(RUSAGE_SELF) in the single-threaded child'));
  ms.push(m(`child faults writing ${k} of them`, r.childWriteFaults, 'faults', 'getrusage(RUSAGE_SELF) in the single-threaded child'));
  ms.push(m('parent pages exclusively mapped before fork', r.exclusiveBefore, 'pages', '/proc/self/pagemap bit 56'));
  ms.push(m('parent pages exclusively mapped while the child lives', r.exclusiveWhileChild, 'pages', '/proc/self/pagemap bit 56'));
  ms.push(m('parent pages exclusively mapped after the child exits', r.exclusiveAfter, 'pages', '/proc/self/pagemap bit 56'));
  const faultsExact = r.childReadFaults === 0 && r.childWriteFaults === k && r.childExitCode === 0;
  const pagemap = r.exclusiveBefore >= 0;
  const shareExact = r.exclusiveBefore === n && r.exclusiveWhileChild === k && r.exclusiveAfter === n;
  const verdict: Outcome['verdict'] = faultsExact && (!pagemap || shareExact) ? (pagemap ? 'confirmed' : 'depends') : 'refuted';
  return {
    measurements: ms,
    verdict,
    condition:
      `the child read ${n} inherited pages with ${r.childReadFaults} faults and wrote ${k} with ${r.childWriteFaults}; ` +
      (pagemap
        ? `the parent's ${n} pages were shared while the child lived (${r.exclusiveWhileChild} exclusive: exactly the ${k} the child copied away) and all ${r.exclusiveAfter} exclusive again after it exited`
        : 'pagemap was not readable here, so sharing was not measured'),
    notes: 'fork copies page tables, not pages: reads share, each first write to a page copies it (one fault), and the copied page leaves the original exclusive to the parent again.',
    key: ['child faults reading all of them', `child faults writing ${k} of them`, 'parent pages exclusively mapped while the child lives', 'parent pages exclusively mapped after the child exits'],
  };
}

/** Experiment 7: copy-on-write after fork. */
export const cowFork = defineExperiment(
  {
    id: 'cow-fork',
    number: 7,
    title: 'Copy-on-write after fork',
    question: 'After fork, which accesses fault and copy, and which share?',
    claim: 'After fork the child shares the parent\'s pages: reads cost nothing, each first write to a page takes one fault and copies it.',
  },
  body,
);
