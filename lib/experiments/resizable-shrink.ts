/** Experiment 14: does shrinking a resizable ArrayBuffer lower RSS? */
import { native } from '../native/binding';
import { pageSize } from '../kernel/system';
import { readSmapsRollup } from '../kernel/smaps-rollup';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import { decideAll, inconclusiveText, showDecision, spread, type Decision } from './trials';
import { reclaim } from '../process/cold';
import { kernelHas } from '../kernel/features';

type Resizable = ArrayBuffer & { resize(n: number): void };

function body(): Outcome {
  const page = pageSize();
  const pages = (16 << 20) / page; // 16 MiB of pages of whatever size the kernel uses
  let probe: Resizable;
  try {
    probe = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(page, { maxByteLength: 2 * page });
  } catch {
    return skippedOutcome('this runtime has no resizable ArrayBuffer');
  }
  if (typeof probe.resize !== 'function') return skippedOutcome('this runtime has no ArrayBuffer.prototype.resize');
  const lazy: number[] = [];
  const regrownZero: boolean[] = [];
  // Memory pressure, on the tail alone: MADV_PAGEOUT reclaims now what reclaim under pressure takes first. A page
  // freed lazily (MADV_FREE) is clean and is dropped, swap or not; an ordinary anonymous page stays without swap.
  const canPressure = kernelHas('processMadvise');
  // Each trial yields the share of the tail still resident right after the shrink (the claim: more than half) and,
  // where reclaim can be asked for, the share still resident after it (the claim: less than half). Both are page
  // counts from mincore, not timings; the trials decide them the way decide() decides a ratio, so a host where the
  // shares scatter across one half says inconclusive rather than one verdict now and another the next run.
  const [stayed, kept] = decideAll({
    holds: [[0.5, Infinity], [-Infinity, 0.5]],
    warmup: 0,
    trial: () => {
      const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(pages * page, { maxByteLength: pages * page });
      const u = new Uint8Array(ab);
      for (let i = 0; i < u.length; i += page) u[i] = 1;
      const start = native.arrayBufferInfo(ab)![0];
      const P = BigInt(page);
      const tailStart = ((start + P + P - 1n) / P) * P; // the first whole page past the one kept
      const tailBytes = Number(start + BigInt(pages * page) - tailStart);
      const before = native.mincoreAt(tailStart, tailBytes, null);
      const lazyBefore = readSmapsRollup().fields['LazyFree'] ?? 0;
      ab.resize(page);
      const after = native.mincoreAt(tailStart, tailBytes, null);
      lazy.push((readSmapsRollup().fields['LazyFree'] ?? 0) - lazyBefore);
      const out = [before > 0 ? after / before : 1];
      if (canPressure) {
        reclaim([{ address: tailStart, length: tailBytes }], 'pageout');
        out.push(before > 0 ? native.mincoreAt(tailStart, tailBytes, null) / before : 1);
      }
      ab.resize(pages * page);
      regrownZero.push(new Uint8Array(ab)[pages * page - page] === 0);
      return out;
    },
  });
  const s = stayed!;
  const lz = spread(lazy);
  const pct = (v: number): string => `${Math.round(v * 100)}%`;
  const shown = (d: Decision): string => showDecision(d, pct, 'trials');
  // The claim holds when the tail stays after the shrink and goes under pressure.
  const open = [s, ...(kept ? [kept] : [])].find((d) => d.outcome === 'inconclusive');
  const verdict: Outcome['verdict'] =
    s.outcome === 'refuted' ? 'refuted' : open ? 'depends' : kept === undefined || kept.outcome === 'confirmed' ? 'confirmed' : 'depends';
  return {
    measurements: [
      m('buffer', pages * page, 'bytes', 'new ArrayBuffer(n, { maxByteLength: n })'),
      m('tail pages still resident right after resize(1 page)', shown(s), '', 'mincore of the tail, before vs after'),
      m('LazyFree added by the shrink', lz.median, 'bytes', 'smaps_rollup LazyFree (MADV_FREE pages)'),
      m('grown back, the tail reads zero', regrownZero.every(Boolean) ? 'yes' : 'no', '', 'resize(n) then read'),
      m('tail pages still resident after reclaim of the tail (MADV_PAGEOUT)', kept ? shown(kept) : 'not measured (no process_madvise)', '', 'mincore of the tail after reclaim([tail], \'pageout\')'),
    ],
    verdict,
    condition:
      s.outcome === 'refuted'
        ? `RSS dropped at once: ${pct(s.median)} of the tail pages stayed resident (${shown(s)}); LazyFree grew by ${lz.median} bytes; nothing was left for memory pressure to take`
        : open
        ? inconclusiveText(open === s ? 'the share of the tail still resident after the shrink:' : 'the share of the tail still resident after reclaim:', open, 'the 50% threshold', pct, 'trials')
        : `RSS held: ${pct(s.median)} of the tail pages stayed resident (${shown(s)}); LazyFree grew by ${lz.median} bytes; ` +
          (kept
            ? `under reclaim of the tail (MADV_PAGEOUT, what memory pressure does first) ${pct(kept.median)} stayed (${shown(kept)})${kept.outcome === 'confirmed' ? ': the lazily freed pages went, with or without swap' : ': they did not go'}`
            : 'pressure not applied (process_madvise missing)'),
    notes:
      'The claim (from V8\'s backing-store code: the tail is zeroed and freed lazily with MADV_FREE) predicts the tail stays resident until memory pressure. ' +
      'mincore counts MADV_FREE pages as present until the kernel reclaims them, so it tells lazy freeing from an immediate one. To give pages back without shrinking, use discard().',
    key: ['tail pages still resident right after resize(1 page)', 'LazyFree added by the shrink', 'tail pages still resident after reclaim of the tail (MADV_PAGEOUT)'],
  };
}

export const resizableShrink = defineExperiment(
  {
    id: 'resizable-shrink',
    number: 14,
    title: 'Shrinking a resizable ArrayBuffer',
    question: 'Does shrinking a resizable ArrayBuffer lower RSS, or does V8 free the tail lazily (MADV_FREE) so RSS holds until memory pressure?',
    claim: 'After resize() to a smaller length, the tail stays resident (freed lazily with MADV_FREE) until the kernel is under memory pressure.',
  },
  body,
);
