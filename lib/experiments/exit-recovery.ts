/** Experiment 6: the OS recovers a process's memory at exit. */
import { fmtBytes } from '../format';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import { probeJson, probeMissing } from './probe';
import type { ExperimentMeasurement } from './experiment';
import { median } from './common';
import { decide, inconclusiveText, showDecision } from './trials';

interface Exit {
  bytes: number;
  childRssAlive: number;
  zombieState: string;
  zombieHasVmRss: boolean;
  memFreeBefore: number;
  memFreeAlive: number;
  memFreeZombie: number;
  memFreeReaped: number;
  freeWithPcpAlive: number;
  freeWithPcpZombie: number;
  exitCode: number;
}

function body(): Outcome {
  const missing = probeMissing();
  if (missing) return skippedOutcome(missing);
  // Each trial is one probe run. The zombie's state and its missing VmRSS are exact; the free memory regained is
  // system-wide (other processes allocate and free in the same moment), so its share of what the child touched is
  // decided over trials: confirmed when the interval of the median share lies at 80% or more.
  const runs: Exit[] = [];
  const share = decide({
    holds: [0.8, Infinity],
    warmup: 0,
    trial: () => {
      const e = probeJson<Exit>(['exit-recovery', '256']);
      runs.push(e);
      return (e.freeWithPcpZombie - e.freeWithPcpAlive) / e.bytes;
    },
  });
  const e = runs[runs.length - 1]!;
  const exact = runs.every((x) => x.zombieState === 'Z' && !x.zombieHasVmRss && x.childRssAlive >= x.bytes);
  const anyRss = runs.some((x) => x.zombieHasVmRss);
  const pct = (v: number): string => `${Math.round(v * 100)}%`;
  const ms: ExperimentMeasurement[] = [];
  const recovered = median(runs.map((x) => x.freeWithPcpZombie - x.freeWithPcpAlive));
  ms.push(m('child touched, never freed', e.bytes, 'bytes', 'pagewise-probe child'));
  ms.push(m('child VmRSS while alive', Math.min(...runs.map((x) => x.childRssAlive)), 'bytes', `/proc/PID/status, fewest of ${runs.length} children`));
  ms.push(m('child state after exit, not yet reaped', runs.every((x) => x.zombieState === e.zombieState) ? e.zombieState : runs.map((x) => x.zombieState).join(','), '', '/proc/PID/status (waitid WNOWAIT)'));
  ms.push(m('zombie has a VmRSS line', anyRss, '', `/proc/PID/status, any of ${runs.length} children`));
  ms.push(m('free memory regained at exit, before reaping', recovered, 'bytes', `/proc/meminfo MemFree + /proc/zoneinfo per-CPU lists, median of ${runs.length} children (system-wide: other processes add noise)`));
  ms.push(m('free memory regained, share of what the child touched', showDecision(share, pct, 'children'), '', 'the same, over the child\'s bytes'));
  ms.push(m('MemFree alone regained', median(runs.map((x) => x.memFreeZombie - x.memFreeAlive)), 'bytes', '/proc/meminfo (misses pages parked on per-CPU free lists)'));
  return {
    measurements: ms,
    verdict: anyRss ? 'refuted' : !exact ? 'depends' : share.outcome === 'confirmed' ? 'confirmed' : 'depends',
    condition:
      !anyRss && exact && share.outcome === 'inconclusive'
        ? inconclusiveText('the share of the child\'s memory free memory regained at its exit:', share, 'the 80% threshold', pct, 'children')
        : `the child's ${fmtBytes(e.bytes)} (VmRSS ${fmtBytes(e.childRssAlive)} alive) were gone before the parent reaped it: the zombie has no address space, ` +
          `and free memory (MemFree plus the per-CPU free lists) rose by ${fmtBytes(recovered)} (${showDecision(share, pct, 'children')})` +
          (share.outcome === 'refuted' ? ' — below 80%: system-wide noise, see notes' : ''),
    notes:
      'exit() tears down the address space (exit_mm) before the process becomes a zombie: page tables and every private page go back to the kernel whether or not free() was called. ' +
      'Freed pages first land on per-CPU free lists that MemFree does not count; free memory is system-wide, so other processes blur it (decided over several children), while the zombie\'s missing VmRSS is exact.',
    key: ['child VmRSS while alive', 'zombie has a VmRSS line', 'free memory regained at exit, before reaping'],
  };
}

/** Experiment 6: memory is recovered at exit. */
export const exitRecovery = defineExperiment(
  {
    id: 'exit-recovery',
    number: 6,
    title: 'Memory recovered at exit',
    question: 'Does the OS recover a process\'s memory at exit without free()?',
    claim: 'At exit the kernel frees all of a process\'s memory, whether or not the program called free().',
  },
  body,
);
