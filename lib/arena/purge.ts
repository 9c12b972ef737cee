/**
 * Giving memory back: `purge()` (every free dirty page, slab pages with no
 * live block included, in one batched call where the kernel allows it),
 * the decay timer's period, `reset()` and the forgetting of every block.
 * @internal
 */
import { native, type RegionHandle } from '../native/binding';
import { kernelHas } from '../kernel/features';
import { fillOf, table } from './intrinsics';
import { IdStack } from './owners';
import { type Heap, setDecayTick } from './heap';
import { releaseSlab } from './slabs';
import { releaseAside } from './runs';
import { C, MADV_GUARD_REMOVE, nMadvise, nRegionDetach, nRegionRemap } from './calls';

let batchAdvice = -1;
let batchOk = false;
/** Whether one process_madvise on the own process can give back with `advice` here (probed once per advice). */
export function batchedGiveBack(advice: number): boolean {
  if (advice !== batchAdvice) {
    batchAdvice = advice;
    batchOk = kernelHas('processMadvise') && native.processMadviseProbe(advice) === 0;
  }
  return batchOk;
}

/**
 * Gives stretches of a region back: one process_madvise per IOV_MAX
 * stretches where the kernel allows it (each madvise of memory written from
 * JS pays a TLB shootdown to V8's threads; the batch pays it once per call),
 * else one madvise each. A batch the kernel refuses is redone one by one.
 */
export function giveBack(region: RegionHandle, offs: number[], lens: number[], advice: number): void {
  if (offs.length === 0) return;
  if (offs.length > 1 && batchedGiveBack(advice)) {
    try {
      const regions: RegionHandle[] = [];
      for (let i = 0; i < offs.length; i++) regions[i] = region;
      native.processMadviseOwn(regions, offs, lens, advice);
      return;
    } catch {
      // Fall through: one call per stretch (idempotent).
    }
  }
  for (let i = 0; i < offs.length; i++) nMadvise(region, offs[i]!, lens[i]!, advice);
}

/**
 * Gives back the runs freed past the `retain` bound and queued (see
 * `Heap.freedRun`): one batched call for the burst. The queue is emptied
 * first, so a failure leaves the pages dirty (retained, never assumed zero)
 * and is not retried on every later call; the error is thrown.
 */
export function flushPending(h: Heap): void {
  const ps = h.pendP;
  const ns = h.pendN;
  const k = ps.length;
  if (k === 0) return;
  const page = h.page;
  const offs: number[] = [];
  const lens: number[] = [];
  for (let i = 0; i < k; i++) {
    offs[i] = h.start + ps[i]! * page;
    lens[i] = ns[i]! * page;
  }
  const pages = h.pendingPages;
  ps.length = 0;
  ns.length = 0;
  h.pendingPages = 0;
  try {
    giveBack(h.region, offs, lens, h.purgeAdvice);
  } finally {
    h.syncBound();
  }
  const runs = h.runs;
  if (h.purgeCleans) for (let i = 0; i < k; i++) runs.markClean((offs[i]! - h.start) / page, lens[i]! / page);
  else h.advised += pages;
  h.syncBound();
}

/**
 * Gives back the queued pages where no caller waits for the outcome (the
 * microtask at the end of a burst of frees, an allocation about to take
 * pages). A failure loses nothing: pages the kernel did not take stay
 * counted as retained (dirty, never assumed zero), and `purge()` reports.
 */
export function flushQuiet(h: Heap): void {
  if (h.pendingPages === 0 || h.closed) return;
  try {
    flushPending(h);
  } catch {
    // See above.
  }
}

/**
 * Gives free memory back without touching live blocks (see `Arena.purge`):
 * returns slabs with no block in use, then purges every free page that may
 * be dirty; returns the bytes advised.
 */
export function purgeAll(h: Heap): number {
  // Queued give-backs: with 'dontneed' in one batch now (then known zero);
  // with 'free' the scan below advises every dirty free page, queued ones too.
  let bytes = 0;
  if (h.handles !== null) {
    h.handles.releaseEmpty();
    h.handles.shrink();
  }
  if (h.asideP.length > 0) releaseAside(h);
  if (h.purgeCleans) {
    bytes = h.pendingPages * h.page;
    flushPending(h);
  } else dropPending(h);
  for (let cls = 0; cls < h.classCount; cls++) {
    const s = h.current[cls];
    if (s && s.free === s.count) {
      h.current[cls] = null;
      releaseSlab(h, s);
    }
  }
  const runs = h.runs;
  const clean = runs.clean;
  const page = h.page;
  // Every stretch to give back, then one batched call (or one each).
  const offs: number[] = [];
  const lens: number[] = [];
  runs.forEachFree((head, length) => {
    const end = head + length;
    for (let i = head; i < end; ) {
      if (clean[i]) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < end && !clean[j]) j++;
      offs[offs.length] = h.start + i * page;
      lens[lens.length] = (j - i) * page;
      if (h.purgeCleans) runs.markClean(i, j - i);
      bytes += (j - i) * page;
      i = j;
    }
  });
  if (!h.purgeCleans) h.advised = runs.dirtyFree();
  if (h.slabDirtyFree > 0) {
    const n = h.slabPages;
    for (let k = 0; k < h.slabs.length; k++) {
      const s = h.slabs[k];
      if (s === undefined) continue;
      const st = s.st;
      for (let i = 0; i < n; ) {
        if (st[i] !== 0) {
          i++;
          continue;
        }
        let j = i + 1;
        while (j < n && st[j] === 0) j++;
        offs[offs.length] = h.start + (s.page + i) * page;
        lens[lens.length] = (j - i) * page;
        for (let q = i; q < j; q++) st[q] = -1;
        h.slabDirtyFree -= j - i;
        bytes += (j - i) * page;
        i = j;
      }
    }
  }
  giveBack(h.region, offs, lens, h.purgeAdvice);
  h.resetPeak();
  return bytes;
}

/** One decay period: gives back everything free if some free dirty pages went unused all period. */
export function decay(h: Heap): boolean {
  if (h.closed) {
    h.timer = null;
    return false;
  }
  const hs = h.handles;
  if (h.dirtyMin + h.slabMin + (hs === null ? 0 : hs.emptyMin) > 0) purgeAll(h);
  const d = h.dirtyPages();
  h.dirtyMin = h.runsDirty();
  h.slabMin = h.slabDirtyFree;
  if (hs !== null) hs.emptyMin = hs.emptySlabs;
  if (d === 0) {
    h.timer = null;
    return false;
  }
  return true;
}

setDecayTick(decay, flushQuiet);

/**
 * Frees every block at once (see `Arena.reset`): detaches every view, then
 * purges the committed range (`keep`: leaves it dirty; `decommit`: returns
 * the commit too).
 */
export function resetHeap(h: Heap, keep: boolean, decommit: boolean): void {
  // Kept: queued give-backs go first (forget() drops the queue); else the
  // whole range is given back or remapped below.
  if (keep) flushPending(h);
  nRegionDetach(h.region, 0, h.regionLength);
  // MADV_DONTNEED keeps guard markers: remove them (one call), before a
  // decommit too (where a buffer may still be alive it zero-fills in place).
  if (h.guardBlocks > 0) nMadvise(h.region, h.start, h.committed, MADV_GUARD_REMOVE);
  forget(h);
  if (h.committed > 0) {
    if (decommit) {
      nRegionRemap(h.region, h.start, h.committed, C.PROT_NONE, C.MAP_NORESERVE);
      h.adviseRange(h.start, h.committed);
      h.committed = 0;
      h.segOf = table();
      h.segments = 0;
    } else if (!keep) {
      nMadvise(h.region, h.start, h.committed, h.purgeAdvice);
    }
  }
  const pages = h.committed / h.page;
  h.runs.reset(pages, keep ? false : h.purgeCleans);
  h.advised = keep || h.purgeCleans ? 0 : pages;
  if (keep && pages > 0 && h.timer === null && h.decayMs > 0) h.armDecay();
  h.resetPeak();
}

/** Forgets the queued give-backs (the caller gives back or unmaps the whole range). */
export function dropPending(h: Heap): void {
  h.pendP.length = 0;
  h.pendN.length = 0;
  h.pendingPages = 0;
}

/** Drops every block's bookkeeping (their buffers are detached by the caller). */
export function forget(h: Heap): void {
  // Segments keep their extent; new objects, so views of the old buffers
  // (detached by the caller) are refused.
  const old = h.segOf;
  h.segOf = table();
  h.segments = 0;
  for (let c = 0; c < old.length; c += old[c]!.chunks) h.addSegments(c, old[c]!.chunks);
  dropPending(h);
  h.slabs = table();
  h.freeSlabIds = new IdStack();
  h.own = table();
  h.freeOwnIds = new IdStack();
  for (let c = 0; c < h.classCount; c++) {
    h.current[c] = null;
    h.partial[c] = null;
    h.classFree[c] = 0;
  }
  h.allocated = 0;
  h.slabDirtyFree = 0;
  h.slabCount = 0;
  h.slabBookBytes = 0;
  h.ownCount = 0;
  h.runViews = 0;
  h.guardBlocks = 0;
  // Set-aside runs are part of the range the caller gives back or keeps whole.
  h.asideP.length = 0;
  h.asideN.length = 0;
  fillOf(h.slabsByClass, 0);
  if (h.handles !== null) h.handles.forget();
}
