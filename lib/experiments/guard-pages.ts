/** Experiment 11: guard pages as PROT_NONE mappings or as MADV_GUARD_INSTALL markers. */
import { mmap } from '../mapping';
import { native } from '../native/binding';
import { pageSize } from '../kernel/system';
import { kernelHas, FEATURE_MINIMUM } from '../kernel/features';
import { vmaCount } from '../measure/vmas';
import { nowNs } from './common';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import type { ExperimentMeasurement, Series } from './experiment';

const PROT_NONE = native.constants.PROT_NONE;
const GUARD = native.uapiConstants.MADV_GUARD_INSTALL;

/** Guards every other page of a 2n-page mapping one way; VMAs, ns per guard, and how many were placed before a refusal. */
function guards(n: number, how: 'protect' | 'guard'): { vmas: number; nsPerGuard: number; placed: number; refused: string | null } {
  const page = pageSize();
  const map = mmap(2 * n * page, { noReserve: true });
  let placed = 0;
  let refused: string | null = null;
  try {
    map.advise('nohugepage');
    const t = nowNs();
    for (let i = 0; i < n; i++) {
      try {
        // The system calls themselves (no views exist over the mapping): the
        // Mapping's protection model would add its own bookkeeping per split.
        if (how === 'protect') native.mprotect(map.region, (2 * i + 1) * page, page, PROT_NONE);
        else native.madvise(map.region, (2 * i + 1) * page, page, GUARD);
        placed++;
      } catch (err) {
        refused = (err as { code?: string }).code ?? String(err);
        break;
      }
    }
    const ns = (nowNs() - t) / Math.max(1, placed);
    return { vmas: vmaCount(map), nsPerGuard: ns, placed, refused };
  } finally {
    map.unmap();
  }
}

function body(): Outcome {
  if (!kernelHas('guard')) return skippedOutcome(`MADV_GUARD_INSTALL needs ${FEATURE_MINIMUM.guard}`);
  const { limit } = native.mapHeadroom();
  const counts = [10, 1000, 60000];
  const ms: ExperimentMeasurement[] = [];
  const cost: Series[] = [
    // One run per count (trials of 1): the verdict rests on the mapping counts, which are exact.
    { name: 'PROT_NONE (mprotect)', x: [], y: [], xUnit: 'guards', yUnit: 'ns/guard', trials: [] },
    { name: 'MADV_GUARD_INSTALL', x: [], y: [], xUnit: 'guards', yUnit: 'ns/guard', trials: [] },
  ];
  let lastProtect = guards(10, 'protect');
  let lastGuard = guards(10, 'guard');
  for (const n of counts) {
    const p = guards(n, 'protect');
    const g = guards(n, 'guard');
    ms.push(m(`mappings after ${n} PROT_NONE guards`, p.vmas, 'VMAs', '/proc/self/maps'));
    ms.push(m(`mappings after ${n} MADV_GUARD_INSTALL guards`, g.vmas, 'VMAs', '/proc/self/maps'));
    ms.push(m(`PROT_NONE guards placed of ${n}`, p.placed, p.refused ? `guards (then ${p.refused})` : 'guards', 'protect()'));
    ms.push(m(`cost per PROT_NONE guard at ${n}`, Math.round(p.nsPerGuard), 'ns', 'process.hrtime, one run (no spread measured)'));
    ms.push(m(`cost per MADV_GUARD_INSTALL guard at ${n}`, Math.round(g.nsPerGuard), 'ns', 'process.hrtime, one run (no spread measured)'));
    cost[0]!.x.push(n);
    cost[0]!.y.push(Math.round(p.nsPerGuard));
    cost[0]!.trials!.push(1);
    cost[1]!.x.push(n);
    cost[1]!.y.push(Math.round(g.nsPerGuard));
    cost[1]!.trials!.push(1);
    lastProtect = p;
    lastGuard = g;
  }
  const oneVma = lastGuard.vmas === 1 && lastGuard.placed === counts[counts.length - 1];
  const protectHitLimit = lastProtect.refused !== null;
  let verdict: Outcome['verdict'];
  let condition: string;
  if (oneVma && protectHitLimit) {
    verdict = 'confirmed';
    condition = `${lastGuard.placed} MADV_GUARD_INSTALL guards kept 1 mapping; PROT_NONE guards split it and stopped at ${lastProtect.placed} (${lastProtect.refused}, vm.max_map_count ${limit})`;
  } else if (oneVma) {
    verdict = 'confirmed';
    condition = `MADV_GUARD_INSTALL kept 1 mapping at every count; PROT_NONE left ${lastProtect.vmas}`;
  } else {
    verdict = 'refuted';
    condition = `MADV_GUARD_INSTALL left ${lastGuard.vmas} mappings after ${lastGuard.placed} guards`;
  }
  return {
    measurements: ms,
    verdict,
    condition,
    notes:
      'Each PROT_NONE guard splits its mapping (two more VMAs per guard in the middle of a mapping) and counts against vm.max_map_count; ' +
      'a guard marker lives in the page table and leaves the mapping whole. Both make any access to the page a SIGSEGV.',
    key: [`mappings after ${counts[2]} PROT_NONE guards`, `mappings after ${counts[2]} MADV_GUARD_INSTALL guards`, `PROT_NONE guards placed of ${counts[2]}`, `cost per MADV_GUARD_INSTALL guard at ${counts[2]}`],
    series: cost,
  };
}

/** Experiment 11: PROT_NONE guard pages or MADV_GUARD_INSTALL? */
export const guardPages = defineExperiment(
  {
    id: 'guard-pages',
    number: 11,
    title: 'Guard pages: PROT_NONE or MADV_GUARD_INSTALL',
    question: 'Guard pages between blocks: PROT_NONE mappings, or MADV_GUARD_INSTALL (Linux 6.13)? What do they cost in mappings and time at 10, 1,000 and 60,000 guards?',
    claim: 'MADV_GUARD_INSTALL guards cost no mapping, so 60,000 of them fit where PROT_NONE guards run into vm.max_map_count.',
  },
  body,
);
