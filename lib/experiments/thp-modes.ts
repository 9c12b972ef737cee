/** Experiment 16: V8's RSS and speed under the process THP policies. */
import { fmtBytes } from '../format';
import { kernelHas } from '../kernel/features';
import { readThp } from '../kernel/thp';
import { defineExperiment, m, type Outcome } from './define';
import { decide, inconclusiveText, nodeChild, showDecision, showSpread, spread, verdictOf } from './trials';

interface Trial {
  mode: string;
  rss: number;
  anonHuge: number;
  advisedHuge: number;
  ms: number;
}

// A fresh Node sets its policy first, then builds 1.5 M small objects and a
// 64 MiB typed array (V8's heap and array-buffer memory), sums them, and
// reports RSS (statm) after two full GCs (less noise from when V8 last
// collected), AnonHugePages (smaps_rollup), the time it took, and how much
// of an 8 MiB range advised with MADV_HUGEPAGE got huge pages.
const SCRIPT = (mode: string): string => `
  pw.transparentHugePages({ mode: ${JSON.stringify(mode)} });
  const t0 = process.hrtime.bigint();
  const objs = []; for (let i = 0; i < 1.5e6; i++) objs.push({ i, s: 'x' + (i % 100) });
  const f = new Float64Array(8 << 20); for (let i = 0; i < f.length; i++) f[i] = i;
  let sum = 0; for (const o of objs) sum += o.i; for (let i = 0; i < f.length; i += 7) sum += f[i];
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  globalThis.gc(); globalThis.gc();
  const m = pw.mmap(8 << 20); m.advise('hugepage'); m.view().fill(1);
  const advisedHuge = pw.readSmaps().filter((e) => e.start < m.address + BigInt(m.length) && m.address < e.end).reduce((n, e) => n + e.anonHugePages, 0);
  m.unmap();
  console.log(JSON.stringify({ mode: ${JSON.stringify(mode)}, rss: pw.readStatm().resident, anonHuge: pw.readSmapsRollup().anonHugePages, advisedHuge, ms, sum: sum > 0 }));`;

function body(): Outcome {
  let system = 'unknown';
  try {
    system = readThp().mode ?? 'none';
  } catch {
    // no THP sysfs
  }
  const modes = kernelHas('thpExceptAdvised') ? ['default', 'advised', 'never'] : ['default', 'never'];
  const opt = modes.includes('advised') ? 'advised' : 'never';
  // Under a system mode other than 'always' nothing gets huge pages it did not ask for: the claim's condition does not
  // hold and the verdict is 'depends' whatever the figures, so five trials only describe them. Under 'always' the
  // trials (one fresh Node per mode, the modes' order rotating) repeat until the interval of the median saving,
  // paired by trial, clears 1 MiB.
  const decisive = system === 'always';
  const runs: Trial[] = [];
  let turn = 0;
  const saved = decide({
    holds: [1 << 20, Infinity],
    minTrials: decisive ? 8 : 5,
    maxTrials: decisive ? 15 : 5,
    budgetMs: decisive ? 60000 : 0,
    warmup: 0,
    trial: () => {
      const got = new Map<string, Trial>();
      for (let i = 0; i < modes.length; i++) {
        const mode = modes[(i + turn) % modes.length]!;
        const r = nodeChild<Trial>(SCRIPT(mode), ['--expose-gc']);
        runs.push(r);
        got.set(mode, r);
      }
      turn++;
      return got.get('default')!.rss - got.get(opt)!.rss;
    },
  });
  const of = (mode: string): Trial[] => runs.filter((r) => r.mode === mode);
  const ms = [];
  for (const mode of modes) {
    const r = of(mode);
    ms.push(m(`RSS under '${mode}'`, showSpread(spread(r.map((x) => x.rss)), fmtBytes), '', 'statm'));
    ms.push(m(`AnonHugePages under '${mode}'`, spread(r.map((x) => x.anonHuge)).median, 'bytes', 'smaps_rollup'));
    ms.push(m(`huge pages of an 8 MiB MADV_HUGEPAGE range under '${mode}'`, spread(r.map((x) => x.advisedHuge)).median, 'bytes', 'smaps AnonHugePages of the range'));
    ms.push(m(`workload time under '${mode}'`, showSpread(spread(r.map((x) => x.ms)), (v) => `${v.toFixed(0)} ms`), '', 'hrtime'));
  }
  const savedText = showDecision(saved, fmtBytes, 'trials');
  return {
    measurements: [m('system THP mode', system, '', 'transparent_hugepage/enabled'), ...ms, m(`RSS saved by '${opt}' against 'default'`, savedText, '', 'statm, paired trials')],
    verdict: decisive ? verdictOf(saved) : 'depends',
    condition: !decisive
      ? `only under system THP 'always'; this system runs '${system}' (V8 and malloc get huge pages only where something asked): '${opt}' saved ${fmtBytes(saved.median)} of RSS against 'default' (${savedText}), ${saved.outcome === 'inconclusive' ? 'inconclusive' : saved.outcome === 'confirmed' ? 'more than 1 MiB' : 'less than 1 MiB'}`
      : saved.outcome === 'inconclusive'
      ? inconclusiveText(`under system THP 'always', the RSS '${opt}' saved against 'default':`, saved, 'the 1 MiB threshold', fmtBytes, 'trials')
      : `under system THP 'always', '${opt}' saved ${fmtBytes(saved.median)} of RSS against 'default' (${savedText})`,
    notes:
      "PR_SET_THP_DISABLE with PR_THP_DISABLE_EXCEPT_ADVISED (Linux 6.18) keeps huge pages only where the process asked with MADV_HUGEPAGE; 'never' refuses " +
      "them everywhere, advised ranges included (the 8 MiB MADV_HUGEPAGE range shows it: huge pages under 'default' and 'advised', none under 'never'). Under THP 'always', V8's heap and malloc's arenas otherwise take 2 MiB pages they only partly use (nodejs/node#11077). Each trial is a " +
      "fresh Node; the modes' order rotates from trial to trial. The system mode is not changed by this experiment.",
    key: [`RSS saved by '${opt}' against 'default'`, `workload time under '${opt}'`, "workload time under 'default'", ...modes.map((x) => `huge pages of an 8 MiB MADV_HUGEPAGE range under '${x}'`)],
  };
}

export const thpModes = defineExperiment(
  {
    id: 'thp-modes',
    number: 16,
    title: 'THP policies: default, advised, never',
    question: "Does opting the process out of transparent huge pages (Linux 6.18 'advised') lower V8's RSS, and what does it cost in speed?",
    claim: "Setting the process THP policy to 'advised' (or 'never') lowers a Node workload's RSS by more than 1 MiB against the default.",
  },
  body,
);
