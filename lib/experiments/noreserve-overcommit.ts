/** Experiment 3: MAP_NORESERVE, overcommit, and failing an allocation cleanly. */
import { mmap } from '../mapping';
import { readMeminfo } from '../kernel/meminfo';
import { readOvercommit } from '../kernel/overcommit';
import { fmtBytes } from '../format';
import { defineExperiment, m, type Outcome } from './define';
import { probeJson, probeMissing, runProbe } from './probe';
import type { ExperimentMeasurement } from './experiment';
import type { RlimitProbe } from './rlimit-data';

interface HugetlbProbe {
  mapped: boolean;
  code?: string;
  size?: number;
  populateOk?: boolean;
  populateCode?: string;
}

function tryMap(length: number, noReserve: boolean): string {
  try {
    mmap(length, { noReserve }).unmap();
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

function freeHugePages(): number | null {
  return readMeminfo()['HugePages_Free'] ?? null;
}

function body(): Outcome {
  const ms: ExperimentMeasurement[] = [];
  const oc = readOvercommit();
  const mi = readMeminfo();
  const total = (mi['MemTotal'] ?? 0) + (mi['SwapTotal'] ?? 0);
  ms.push(m('overcommit_memory', oc.overcommitMemory, '', '/proc/sys/vm/overcommit_memory'));
  ms.push(m('CommitLimit', mi['CommitLimit'] ?? null, 'bytes', '/proc/meminfo'));
  ms.push(m('RAM + swap', total, 'bytes', '/proc/meminfo'));
  // Address space only: nothing is touched, so this puts no pressure on the machine.
  const big = Math.ceil((total * 2) / (1 << 30)) * (1 << 30);
  const without = tryMap(big, false);
  const withNr = tryMap(big, true);
  ms.push(m(`mmap ${fmtBytes(big)} (2x RAM+swap) without MAP_NORESERVE`, without, '', 'mmap'));
  ms.push(m(`mmap ${fmtBytes(big)} with MAP_NORESERVE`, withNr, '', 'mmap'));

  const missing = probeMissing();
  let commitCode: string | null = null;
  let signal: string | null = null;
  let populateCode: string | null = null;
  if (missing === null) {
    const limitKb = 32 * 1024;
    const r = probeJson<RlimitProbe>(['rlimit-data', '64'], { ulimit: `-d ${limitKb}` });
    commitCode = r.commitMprotect ? (r.commitMprotect.ok ? 'ok' : r.commitMprotect.code) : null;
    ms.push(m('PROT_NONE reservation of 64 MiB under RLIMIT_DATA 32 MiB', r.reserveNone?.ok ? 'ok' : r.reserveNone?.code ?? null, '', 'pagewise-probe under ulimit -d'));
    ms.push(m('mprotect commit of it to read+write', commitCode, '', 'pagewise-probe under ulimit -d'));
    ms.push(m('mprotect commit of one page of it', r.commitOnePage ? (r.commitOnePage.ok ? 'ok' : r.commitOnePage.code) : null, '', 'pagewise-probe under ulimit -d'));
    const free = freeHugePages();
    ms.push(m('free hugetlbfs pages', free, 'pages', '/proc/sys/vm/nr_hugepages, /proc/meminfo'));
    if (free === 0) {
      const h = runProbe<HugetlbProbe>(['hugetlb-touch']);
      if (h.json && h.json.mapped) {
        populateCode = h.json.populateOk ? 'ok' : h.json.populateCode ?? null;
        signal = h.signal ?? (h.status === 0 ? 'none' : `exit ${h.status}`);
        ms.push(m('MADV_POPULATE_WRITE on MAP_HUGETLB|MAP_NORESERVE, no huge pages', populateCode, '', 'pagewise-probe'));
        ms.push(m('touching the same page', signal, 'signal', 'pagewise-probe child, its death signal'));
      } else {
        ms.push(m('MAP_HUGETLB|MAP_NORESERVE mmap', h.json?.code ?? 'failed', '', 'pagewise-probe'));
      }
    }
  } else {
    ms.push(m('commit under RLIMIT_DATA', null, '', missing));
  }

  const mode = oc.overcommitMemory;
  const noreserveHonoured = mode !== 2 ? withNr === 'ok' : true;
  let verdict: Outcome['verdict'];
  let condition: string;
  const alt =
    `an allocator fails cleanly by committing with mprotect (${commitCode ?? 'not measured'} under RLIMIT_DATA, or under overcommit_memory=2) ` +
    `or prefaulting with MADV_POPULATE_WRITE (returns ${populateCode ?? 'an error code'})`;
  if (signal === 'SIGSEGV') {
    verdict = 'confirmed';
    condition = `touching unbacked MAP_NORESERVE memory raised SIGSEGV here`;
  } else if (signal === 'SIGBUS') {
    verdict = 'depends';
    condition =
      `a trappable signal arrives only for hugetlbfs MAP_NORESERVE memory without free huge pages, and it is SIGBUS (measured), not SIGSEGV; ` +
      `anonymous memory that cannot be backed brings the OOM killer (SIGKILL, cannot be trapped; mm/oom_kill.c), never SIGSEGV; ${alt}`;
  } else {
    verdict = 'refuted';
    condition = `no trappable signal was observed; anonymous memory that cannot be backed brings the OOM killer (SIGKILL); ${alt}`;
  }
  return {
    measurements: ms,
    verdict,
    condition,
    notes:
      `overcommit_memory=${mode}: a ${fmtBytes(big)} mapping ${without === 'ok' ? 'succeeds' : `fails (${without})`} without MAP_NORESERVE and ` +
      `${withNr === 'ok' ? 'succeeds' : `fails (${withNr})`} with it${noreserveHonoured ? '' : ' (MAP_NORESERVE not honoured?)'}` +
      `${mode === 2 ? ' (mode 2 ignores MAP_NORESERVE)' : ''}. The failure paths ran in child processes under per-process limits; nothing exhausted the machine.`,
    key: [`mmap ${fmtBytes(big)} (2x RAM+swap) without MAP_NORESERVE`, `mmap ${fmtBytes(big)} with MAP_NORESERVE`, 'mprotect commit of it to read+write', 'touching the same page'],
  };
}

/** Experiment 3: MAP_NORESERVE and overcommit. */
export const noreserveOvercommit = defineExperiment(
  {
    id: 'noreserve-overcommit',
    number: 3,
    title: 'MAP_NORESERVE and overcommit',
    question: 'Why does MAP_NORESERVE matter, and how does an allocator fail an allocation cleanly instead of dying?',
    claim: 'With MAP_NORESERVE, touch each page and trap SIGSEGV to fail the allocation when memory runs out.',
  },
  body,
);
