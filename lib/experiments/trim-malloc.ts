/** Experiment 15: malloc fragmentation before and after trimMalloc(). */
import { fmtBytes } from '../format';
import { defineExperiment, m, type Outcome } from './define';
import { decide, inconclusiveText, nodeChild, showDecision, showSpread, spread, verdictOf } from './trials';

interface Trial {
  trim: boolean;
  allocated: number;
  rssPeak: number;
  rssFreed: number;
  rssEnd: number;
  freeBytes: number | null;
}

// In a fresh Node: 3000 blocks of 48 KiB (under glibc's 128 KiB mmap
// threshold, so inside malloc's heaps), 9 in 10 freed in runs, collected;
// then trimMalloc() or nothing. RSS from statm (exact since Linux 6.16).
const SCRIPT = (trim: boolean): string => `
  const page = pw.pageSize(), rss = () => pw.readStatm().resident;
  let b = []; for (let i = 0; i < 3000; i++) b.push(Buffer.allocUnsafeSlow(48 * 1024).fill(1));
  const rssPeak = rss();
  b = b.filter((_, i) => i % 10 === 0); globalThis.gc(); globalThis.gc();
  const rssFreed = rss();
  const r = ${trim} ? pw.trimMalloc() : null;
  const rssEnd = rss();
  console.log(JSON.stringify({ trim: ${trim}, allocated: 3000 * 48 * 1024, rssPeak, rssFreed, rssEnd, freeBytes: r ? r.freeBefore : null, b: b.length }));`;

function body(): Outcome {
  const runs: Trial[] = [];
  const freed = 0.9 * 3000 * 48 * 1024;
  // Each trial is a pair of fresh Node processes, control and trim (the order
  // alternating from pair to pair); its figure is what the trim gave back
  // beyond what the control's same step did, as a share of the freed bytes.
  // The pairs repeat until the interval of the median share clears one half.
  const gain = decide({
    holds: [0.5, Infinity],
    minTrials: 8,
    maxTrials: 15,
    budgetMs: 15000,
    warmup: 0,
    trial: (flip) => {
      const pair: Trial[] = [];
      for (const trim of flip ? [true, false] : [false, true]) pair.push(nodeChild<Trial>(SCRIPT(trim), ['--expose-gc']));
      runs.push(...pair);
      const [c, t] = pair[0]!.trim ? [pair[1]!, pair[0]!] : [pair[0]!, pair[1]!];
      return (t.rssFreed - t.rssEnd - (c.rssFreed - c.rssEnd)) / freed;
    },
  });
  const control = runs.filter((r) => !r.trim);
  const trimmed = runs.filter((r) => r.trim);
  const heldAfterFree = spread(control.map((r) => (r.rssFreed - (r.rssPeak - r.allocated)) / r.allocated));
  const pct = (v: number): string => `${Math.round(v * 100)}%`;
  const given = showDecision(gain, pct, 'pairs of processes');
  return {
    measurements: [
      m('allocated', 3000 * 48 * 1024, 'bytes', '3000 Buffer.allocUnsafeSlow(48 KiB): malloc'),
      m('freed (9 in 10, in runs)', freed, 'bytes', 'dropped and collected'),
      m('RSS still held after free, share of allocated', showSpread(heldAfterFree, pct), '', 'statm, control runs'),
      m('malloc free bytes before trim', spread(trimmed.map((r) => r.freeBytes ?? 0)).median, 'bytes', 'mallinfo2 fordblks'),
      m('RSS given back by trimMalloc, share of freed', given, '', 'statm, trim minus control, paired'),
      m('RSS given back by trimMalloc', spread(trimmed.map((r) => r.rssFreed - r.rssEnd)).median, 'bytes', 'statm'),
    ],
    verdict: verdictOf(gain),
    condition:
      gain.outcome === 'inconclusive'
        ? inconclusiveText('the share of the freed bytes trimMalloc gave back:', gain, 'the 50% threshold', pct, 'pairs of processes')
        : `trimMalloc gave back ${pct(gain.median)} of the ${fmtBytes(freed)} freed beyond the control's same step (${given}), while freeing alone left ${showSpread(heldAfterFree, pct)} of the allocation resident`,
    notes:
      'glibc keeps freed chunks inside its heaps for reuse: RSS stays after free(). malloc_trim(0) returns the heap top and, since glibc 2.8, every whole ' +
      'free page inside the heaps with MADV_DONTNEED. Each trial is a pair of fresh Node processes, trim and control, which goes first alternating.',
    key: ['RSS still held after free, share of allocated', 'RSS given back by trimMalloc, share of freed'],
  };
}

export const trimMallocExperiment = defineExperiment(
  {
    id: 'trim-malloc',
    number: 15,
    title: 'Malloc fragmentation and trimMalloc()',
    question: 'Node frees Buffers, RSS stays: does trimMalloc() (malloc_trim(0)) give the freed memory back?',
    claim: 'After many malloc-backed Buffers are freed, trimMalloc() gives back most of the freed bytes (more than half) that free() kept.',
  },
  body,
);
