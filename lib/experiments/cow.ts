/** Experiment 7: copy-on-write after fork. */
import { mmap } from '../mapping';
import { lab, labMissing, type CowResult } from '../native/lab';
import { pageSize } from '../kernel/system';
import { touchPages } from '../measure/touch';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import type { ExperimentMeasurement } from './experiment';
import { plural } from '../format';

export type { CowResult };

/** Runs the fork probe over `pages` dirty pages, the child writing `writes` of them. @internal */
export function runCow(pages: number, writes: number): CowResult {
  const page = pageSize();
  const region = mmap(pages * page);
  try {
    region.advise('nohugepage');
    touchPages(region.view(0, pages * page), page, 0, pages, 5);
    return lab.cowProbe(region, 0, pages * page, writes);
  } finally {
    region.unmap();
  }
}

function body(): Outcome {
  const missing = labMissing();
  if (missing) return skippedOutcome(missing);
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
      `the child read ${n} inherited pages with ${plural(r.childReadFaults, 'fault')} and wrote ${k} with ${plural(r.childWriteFaults, 'fault')}; ` +
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
