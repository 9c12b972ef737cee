/** Experiment 10: prefaulting. */
import { mmap, type Mapping } from '../mapping';
import { pageSize, hugePageSize } from '../kernel/system';
import { adviceSupported } from '../mapping/flags';
import { readSmaps } from '../kernel/smaps';
import { Arena } from '../arena/arena';
import { thpMode } from '../kernel/facts';
import { threadFaults } from '../measure/faults';
import { touchPages } from '../measure/touch';
import { costWords, median, nowNs } from './common';
import { decideAll, fmtRatio, inconclusiveText, medianInterval, showDecision, showLoad } from './trials';
import { defineExperiment, m, type Outcome } from './define';
import type { ExperimentMeasurement, Series } from './experiment';

interface Run {
  /** The whole operation's time. */
  ns: number;
  /**
   * The fastest chunk's time times the number of chunks: the operation's cost
   * without the moments this thread was not running (on a loaded machine a
   * timing of thousands of pages spans several time slices; a chunk of
   * {@link CHUNK_PAGES} pages often fits in one). Equal to `ns` for the
   * methods timed whole.
   */
  bestNs: number;
  faults: number;
  huge: number;
}

/** Pages per timed chunk of the methods the verdict compares. */
const CHUNK_PAGES = 256;

/** AnonHugePages of the regions, from one read of the smaps. */
function hugeBytes(maps: readonly Mapping[]): number {
  let n = 0;
  for (const e of readSmaps()) {
    if (maps.some((x) => e.start < x.address + BigInt(x.length) && e.end > x.address)) n += e.anonHugePages;
  }
  return n;
}

/** Times `step(c)` for each chunk c: the sum and the fastest times the count. */
function chunked(chunks: number, step: (c: number) => void): { ns: number; bestNs: number } {
  let sum = 0;
  let best = Infinity;
  for (let c = 0; c < chunks; c++) {
    const t0 = nowNs();
    step(c);
    const d = nowNs() - t0;
    sum += d;
    if (d < best) best = d;
  }
  return { ns: sum, bestNs: best * chunks };
}

function once(method: string, bytes: number): Run {
  const page = pageSize();
  const pages = bytes / page;
  const per = Math.min(CHUNK_PAGES, pages);
  const chunks = pages / per; // 16 MiB is a whole number of 256-page chunks for any page size up to 64 KiB
  const regions: Mapping[] = [];
  try {
    if (method === 'Arena.prefault') {
      const arena = new Arena({ reserve: bytes * 2, hugePages: false });
      try {
        const f0 = threadFaults();
        const t0 = nowNs();
        arena.prefault(bytes);
        const ns = nowNs() - t0;
        return { ns, bestNs: ns, faults: threadFaults() - f0, huge: 0 };
      } finally {
        arena.close();
      }
    }
    if (method === 'MAP_POPULATE') {
      const f0 = threadFaults();
      const t = chunked(chunks, () => void regions.push(mmap(per * page, { populate: true })));
      const faults = threadFaults() - f0;
      return { ...t, faults, huge: hugeBytes(regions) };
    }
    // Over-map by one huge page so the THP run has aligned huge pages inside.
    const hp = hugePageSize() ?? page;
    const region = mmap(bytes + (method === 'THP first touch' ? hp : 0));
    regions.push(region);
    region.advise(method === 'THP first touch' ? 'hugepage' : 'nohugepage');
    const view = region.view(0, bytes);
    const f0 = threadFaults();
    let t: { ns: number; bestNs: number };
    if (method === 'MADV_POPULATE_WRITE') t = chunked(chunks, (c) => void region.advise('populate_write', c * per * page, per * page));
    else if (method === 'first touch') t = chunked(chunks, (c) => touchPages(view, page, c * per, per, 1));
    else {
      const t0 = nowNs();
      touchPages(view, page, 0, pages, 1);
      const ns = nowNs() - t0;
      t = { ns, bestNs: ns };
    }
    return { ...t, faults: threadFaults() - f0, huge: hugeBytes(regions) };
  } finally {
    for (const r of regions) r.unmap();
  }
}

/** How a method's time compares with first touch's, in words (exported for the wording test). */
export function vsFirstTouch(ns: number, touchNs: number): string {
  return `${costWords(ns, touchNs)} than first touch`;
}

function body(): Outcome {
  const page = pageSize();
  const bytes = 16 * 1024 * 1024;
  const pages = bytes / page;
  const mode = thpMode();
  const methods = ['first touch', 'MAP_POPULATE'];
  if (adviceSupported('populate_write')) methods.push('MADV_POPULATE_WRITE');
  const thp = mode !== null && mode !== 'never' && hugePageSize() !== null;
  if (thp) methods.push('THP first touch');
  methods.push('Arena.prefault');
  // Warm the touch loop on a small region so JIT work is not in the timings.
  once('first touch', 64 * page);
  const ms: ExperimentMeasurement[] = [m('THP mode', mode, '', '/sys/kernel/mm/transparent_hugepage/enabled'), m('region', bytes, 'bytes', 'pagewise')];
  const nsSeries: Series = { name: `ns per ${page / 1024}K page`, x: [], y: [], labels: [], xUnit: 'method', yUnit: 'ns/page', trials: [], lo: [], hi: [] };
  const res: Record<string, { ns: number; faults: number; huge: number; min: number; max: number }> = {};
  // Each trial runs every method once, in an order that rotates from trial
  // to trial, so a noisy moment of this machine hits them all, not one; its
  // ratios are each prefault method's cost over first touch's, from the
  // fastest of their 256-page chunks (Run.bestNs).
  const runsOf = new Map<string, Run[]>(methods.map((x) => [x, []]));
  const failed = new Map<string, string>();
  const prefaultMethods = methods.filter((x) => x === 'MAP_POPULATE' || x === 'MADV_POPULATE_WRITE');
  const ratiosOf = new Map<string, number[]>(prefaultMethods.map((x) => [x, []]));
  let turn = 0;
  // On a quiet machine the intervals decide after the first 11 trials. Under heavy load a timing of the whole 16 MiB
  // spans several time slices and the ratio of two such timings wanders (six runs in a row at load 5-9 judged on them
  // decided three times and straddled 1x three times); the fastest chunk leaves the preempted moments out, the larger
  // budget gives a loaded machine more trials, and what neither narrows stays "inconclusive here".
  const decisions = decideAll({
    holds: [0, 1],
    budgetMs: 25000,
    minTrials: 11,
    maxTrials: 61,
    warmup: 0,
    trial: () => {
      const order = methods.map((_, i) => methods[(i + turn) % methods.length]!);
      turn++;
      const got = new Map<string, Run>();
      for (const method of order) {
        if (failed.has(method)) continue;
        try {
          const run = once(method, bytes);
          runsOf.get(method)!.push(run);
          got.set(method, run);
        } catch (err) {
          failed.set(method, (err as Error).message.split('\n')[0]!);
        }
      }
      const touch = got.get('first touch');
      if (!touch) return [NaN];
      return prefaultMethods.map((x) => {
        const run = got.get(x);
        const r = run ? run.bestNs / touch.bestNs : NaN;
        if (run) ratiosOf.get(x)!.push(r);
        return r;
      });
    },
  });
  methods.forEach((method, i) => {
    const runs = runsOf.get(method)!;
    if (failed.has(method)) {
      ms.push(m(`${method}: time per page`, null, 'ns/page', `failed: ${failed.get(method)}`));
      return;
    }
    const perPage = runs.map((x) => x.ns / pages);
    const ns = median(perPage);
    // The fewest faults of the rounds: the operation's own count is the same
    // every round, and a round can only add faults of other causes (V8
    // touching a fresh page of its heap between the two readings).
    const faults = Math.min(...runs.map((x) => x.faults)) / pages;
    const huge = median(runs.map((x) => x.huge));
    res[method] = { ns, faults, huge, min: Math.min(...perPage), max: Math.max(...perPage) };
    ms.push(m(`${method}: time per page`, Math.round(ns), 'ns/page', `process.hrtime, median of ${runs.length} interleaved trials (${Math.round(Math.min(...perPage))}..${Math.round(Math.max(...perPage))})`));
    ms.push(m(`${method}: faults per page`, Number(faults.toFixed(4)), 'faults/page', `getrusage(RUSAGE_THREAD), fewest of ${runs.length} trials`));
    if (method === 'THP first touch') ms.push(m(`${method}: bytes in huge pages`, huge, 'bytes', '/proc/self/smaps AnonHugePages'));
    nsSeries.x.push(i);
    nsSeries.y.push(Math.round(ns));
    nsSeries.labels!.push(method);
    nsSeries.trials!.push(runs.length);
    nsSeries.lo!.push(Math.round(Math.min(...perPage)));
    nsSeries.hi!.push(Math.round(Math.max(...perPage)));
  });
  const touch = res['first touch']!;
  const pop = res['MAP_POPULATE']!;
  const pw = res['MADV_POPULATE_WRITE'];
  const th = res['THP first touch'];
  // Cheaper or dearer only when the interval of the median ratio says so;
  // otherwise the difference is within this machine's noise.
  for (const [x, rs] of ratiosOf) {
    if (rs.length === 0) continue;
    const iv = medianInterval(rs);
    ms.push(m(`${x} / first touch`, Number(iv.median.toFixed(3)), 'x', `median of per-trial ratios of the fastest ${CHUNK_PAGES}-page chunk; 95% interval [${fmtRatio(iv.low)}, ${fmtRatio(iv.high)}], ${rs.length} trials`));
  }
  ms.push(m('load average (1 min) during the trials', Number(decisions[0]!.loadavg[1].toFixed(2)), '', 'os.loadavg()'));
  const judged = prefaultMethods.map((x, k) => ({ method: x, d: decisions[k]! }));
  const prefaultCheaper = judged.every((j) => j.d.outcome === 'confirmed');
  const prefaultDearer = judged.some((j) => j.d.outcome === 'refuted');
  const open = judged.find((j) => j.d.outcome === 'inconclusive');
  const hp = hugePageSize() ?? page;
  const thpOne = th !== undefined && th.faults <= (2 * page) / hp + 1e-9 && th.huge > 0;
  const verdict: Outcome['verdict'] = prefaultDearer ? 'refuted' : !prefaultCheaper || th === undefined || !thpOne ? 'depends' : 'confirmed';
  const ratio = (x: number): string => vsFirstTouch(x, touch.ns);
  return {
    measurements: ms,
    verdict,
    condition:
      (!prefaultCheaper && !prefaultDearer && open
        ? `${inconclusiveText(`${open.method} / first touch:`, open.d, 'the 1x threshold')}; `
        : `${judged.map((j) => `${j.method} / first touch: ${showDecision(j.d)}`).join('; ')}, ${showLoad(decisions[0]!)}; `) +
      `first touch ${Math.round(touch.ns)} ns/page (${touch.faults.toFixed(2)} faults/page); MAP_POPULATE ${Math.round(pop.ns)} ns/page (${ratio(pop.ns)})` +
      (pw ? `; MADV_POPULATE_WRITE ${Math.round(pw.ns)} ns/page (${ratio(pw.ns)})` : '; MADV_POPULATE_WRITE unsupported') +
      (res['Arena.prefault'] ? `; pagewise Arena.prefault ${Math.round(res['Arena.prefault'].ns)} ns/page` : '') +
      (th ? `; THP ${Math.round(th.ns)} ns/page with ${th.faults.toFixed(4)} faults/page (one per ${Math.round(1 / Math.max(th.faults, 1e-9))} pages)` : `; THP not available (mode ${mode})`),
    notes:
      'Prefaulting still takes one fault per page (counted by getrusage, not by perf events), but in one system call with no trap per page. ' +
      'THP needs a 2 MiB-aligned range and MADV_HUGEPAGE in madvise mode; one fault maps a whole huge page. ' +
      'First touch, MAP_POPULATE and MADV_POPULATE_WRITE are timed in 256-page chunks (MAP_POPULATE as one mapping per chunk): the times per page are whole operations, the verdict compares the fastest chunks, which leave out the moments this thread was not running.',
    key: ['first touch: time per page', 'MAP_POPULATE: time per page', 'MADV_POPULATE_WRITE: time per page', 'THP first touch: faults per page', 'Arena.prefault: time per page'],
    series: [nsSeries],
  };
}

/** Experiment 10: prefaulting. */
export const prefault = defineExperiment(
  {
    id: 'prefault',
    number: 10,
    title: 'Prefaulting',
    question: 'First touch, MAP_POPULATE, MADV_POPULATE_WRITE or transparent huge pages: what does each cost per page?',
    claim: 'Prefaulting (MAP_POPULATE, MADV_POPULATE_WRITE) makes pages resident for less than touching them one by one, and THP takes one fault per huge page.',
  },
  body,
);
