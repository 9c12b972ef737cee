/** Experiment 15: malloc fragmentation before and after trimMalloc(). */
import { fmtBytes } from '../format';
import { defineExperiment, m, type Outcome } from './define';
import { nodeChild, showSpread, side, spread } from './trials';

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
  const trials = 5;
  const runs: Trial[] = [];
  // Interleaved: control, trim, control, trim, ...
  for (let t = 0; t < trials; t++) for (const trim of [false, true]) runs.push(nodeChild<Trial>(SCRIPT(trim), ['--expose-gc']));
  const control = runs.filter((r) => !r.trim);
  const trimmed = runs.filter((r) => r.trim);
  const heldAfterFree = spread(control.map((r) => (r.rssFreed - (r.rssPeak - r.allocated)) / r.allocated));
  // Per pair: what the trim gave back beyond what the control's same step did, as a share of the freed bytes.
  const freed = 0.9 * 3000 * 48 * 1024;
  const gain = spread(trimmed.map((r, i) => (r.rssFreed - r.rssEnd - (control[i]!.rssFreed - control[i]!.rssEnd)) / freed));
  const where = side(gain, 0.5);
  const pct = (v: number): string => `${Math.round(v * 100)}%`;
  const verdict: Outcome['verdict'] = where === 'above' ? 'confirmed' : where === 'below' ? 'refuted' : 'depends';
  return {
    measurements: [
      m('allocated', 3000 * 48 * 1024, 'bytes', '3000 Buffer.allocUnsafeSlow(48 KiB): malloc'),
      m('freed (9 in 10, in runs)', freed, 'bytes', 'dropped and collected'),
      m('RSS still held after free, share of allocated', showSpread(heldAfterFree, pct), '', 'statm, control runs'),
      m('malloc free bytes before trim', spread(trimmed.map((r) => r.freeBytes ?? 0)).median, 'bytes', 'mallinfo2 fordblks'),
      m('RSS given back by trimMalloc, share of freed', showSpread(gain, pct), '', 'statm, trim minus control, paired'),
      m('RSS given back by trimMalloc', spread(trimmed.map((r) => r.rssFreed - r.rssEnd)).median, 'bytes', 'statm'),
    ],
    verdict,
    condition:
      where === 'inconclusive'
        ? `inconclusive: trimMalloc gave back ${showSpread(gain, pct)} of the freed bytes, across the 50% threshold`
        : `trimMalloc gave back ${showSpread(gain, pct)} of the ${fmtBytes(freed)} freed (beyond the control's same step), while freeing alone left ${showSpread(heldAfterFree, pct)} of the allocation resident`,
    notes:
      'glibc keeps freed chunks inside its heaps for reuse: RSS stays after free(). malloc_trim(0) returns the heap top and, since glibc 2.8, every whole ' +
      'free page inside the heaps with MADV_DONTNEED. Each trial is a fresh Node process; trim and control runs alternate.',
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
