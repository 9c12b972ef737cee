/** Experiment 9: RLIMIT_DATA and mmap. */
import * as os from 'node:os';
import { ignoreRlimitData } from '../kernel/facts';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import { probeJson, probeMissing } from './probe';
import type { ExperimentMeasurement } from './experiment';

/** One allocation attempt in the probe. @internal */
export interface ProbeAttempt {
  ok: boolean;
  errno: number;
  code: string;
}

/** Output of `pagewise-probe rlimit-data`. @internal */
export interface RlimitProbe {
  limit: number;
  request: number;
  privateWritable?: ProbeAttempt;
  privateWritableNoreserve?: ProbeAttempt;
  sharedWritable?: ProbeAttempt;
  privateReadOnly?: ProbeAttempt;
  reserveNone?: ProbeAttempt;
  commitMprotect?: ProbeAttempt;
  commitOnePage?: ProbeAttempt;
  malloc?: ProbeAttempt;
  sbrk?: ProbeAttempt;
}

const show = (a: ProbeAttempt | undefined): string | null => (a ? (a.ok ? 'ok' : a.code) : null);

function body(): Outcome {
  const missing = probeMissing();
  if (missing) return skippedOutcome(missing);
  const ms: ExperimentMeasurement[] = [];
  const limitKb = 32 * 1024;
  const r = probeJson<RlimitProbe>(['rlimit-data', '64'], { ulimit: `-d ${limitKb}` });
  const ignore = ignoreRlimitData();
  ms.push(m('kernel', os.release(), '', 'uname'));
  ms.push(m('ignore_rlimit_data', ignore, '', '/sys/module/kernel/parameters/ignore_rlimit_data'));
  ms.push(m('RLIMIT_DATA in the child', r.limit, 'bytes', 'getrlimit in pagewise-probe (sh ulimit -d)'));
  ms.push(m('request', r.request, 'bytes', 'pagewise-probe'));
  ms.push(m('mmap private read+write', show(r.privateWritable), '', 'pagewise-probe'));
  ms.push(m('mmap private read+write MAP_NORESERVE', show(r.privateWritableNoreserve), '', 'pagewise-probe'));
  ms.push(m('malloc (served by mmap)', show(r.malloc), '', 'pagewise-probe'));
  ms.push(m('sbrk', show(r.sbrk), '', 'pagewise-probe'));
  ms.push(m('mmap shared read+write', show(r.sharedWritable), '', 'pagewise-probe'));
  ms.push(m('mmap private read-only', show(r.privateReadOnly), '', 'pagewise-probe'));
  ms.push(m('mmap PROT_NONE, then mprotect read+write', `${show(r.reserveNone)}, then ${show(r.commitMprotect)}`, '', 'pagewise-probe'));

  const counted = r.privateWritable !== undefined && !r.privateWritable.ok && r.privateWritable.code === 'ENOMEM';
  const escaped = r.privateWritable?.ok === true;
  const verdict: Outcome['verdict'] = counted ? 'refuted' : escaped ? 'confirmed' : 'depends';
  const condition = counted
    ? `since Linux 4.7 RLIMIT_DATA counts private writable mappings: a 64 MiB mmap under a 32 MiB limit failed with ENOMEM (so did malloc: ${show(r.malloc)}); shared (${show(r.sharedWritable)}) and read-only (${show(r.privateReadOnly)}) mappings still escape`
    : escaped
      ? `private writable mmap escaped RLIMIT_DATA here (kernel before 4.7, or ignore_rlimit_data=${ignore})`
      : `mmap failed with ${r.privateWritable?.code ?? 'unknown'}, not the ENOMEM of the limit`;
  return {
    measurements: ms,
    verdict,
    condition,
    notes: 'The limit was set with `ulimit -d` in a child shell that exec\'d the probe; no other process was affected.',
    key: ['mmap private read+write', 'malloc (served by mmap)', 'mmap shared read+write', 'mmap PROT_NONE, then mprotect read+write'],
  };
}

/** Experiment 9: RLIMIT_DATA and mmap. */
export const rlimitData = defineExperiment(
  {
    id: 'rlimit-data',
    number: 9,
    title: 'RLIMIT_DATA and mmap',
    question: 'Do mmap\'d allocations escape RLIMIT_DATA, as the old malloc(3) text says?',
    claim: 'Allocations performed using mmap(2) are unaffected by the RLIMIT_DATA resource limit (malloc(3), before Linux 4.7).',
  },
  body,
);
