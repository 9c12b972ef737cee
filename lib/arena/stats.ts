/**
 * What `Arena.stats()` reports: counters kept as blocks come and go, and
 * the two measures (`resident`, one `mincore`; `mappings`, one read of
 * `/proc/self/maps`) taken only when asked or first read. This file is the
 * arena's only user of the measurement kit and of `/proc`.
 * @internal
 */
import { rusageRaw } from '../process/rusage';
import { readMaps } from '../kernel/maps';
import { residencyOfRange } from '../measure/residency';
import { BigIntOf, floor } from './intrinsics';
import { type Heap, CLASSES } from './heap';
import { OWN_OBJECT_BYTES, releaseAside } from './runs';
import { batchedGiveBack, flushQuiet } from './purge';
import { C, nRegionAddress } from './calls';

/** Options of {@link Arena.stats}. */
export interface ArenaStatsOptions {
  /**
   * Measure `resident` (one `mincore` over the committed range) and
   * `mappings` (a read of `/proc/self/maps`) now. Default false: they are
   * measured when first read, and a `stats()` whose `resident` and
   * `mappings` are never read only reads counters, whatever the arena's size.
   */
  resident?: boolean;
}

/** What {@link Arena.stats} reports. All sizes in bytes. */
export interface ArenaStats {
  /** Address space reserved for blocks (the reservation, rounded to chunks). */
  reserved: number;
  /** Committed (readable and writable, charged) bytes. */
  committed: number;
  /** Bytes in live blocks, each counted at its block size (its size class, or whole pages). */
  allocated: number;
  /**
   * Free bytes ready for reuse: by size class (`'16'`, `'32'`, ...: free
   * blocks in slabs) and `'pages'` (free committed page runs).
   */
  freeBytesByClass: Record<string, number>;
  /**
   * Free pages kept dirty for reuse (bytes): given back by `purge()`, decay,
   * or the `retain` bound. Pages of free blocks inside slabs count once no
   * live block touches them.
   */
  retained: number;
  /**
   * How free pages go back to the kernel: `'process_madvise'` (every stretch
   * of one purge in one call per `IOV_MAX` stretches, on the own process,
   * where the kernel allows the arena's advice there: Linux 6.13+ for
   * `MADV_DONTNEED`) or `'madvise'` (one call per stretch).
   */
  giveBack: 'process_madvise' | 'madvise';
  /**
   * Resident bytes of the committed range (one `mincore`: every present
   * page, the shared zero page included where the kernel maps it). Measured
   * when first read (or at once with `stats({ resident: true })`), so a
   * `stats()` whose `resident` is never read costs no system call.
   */
  resident: number;
  /** Kernel mappings (VMAs, lines of `/proc/self/maps`) the reservation occupies; measured like `resident`. */
  mappings: number;
  /** Page faults (minor + major) on this thread since the arena was made (`getrusage(RUSAGE_THREAD)`). */
  threadFaults: number;
  /** Memory the JS-side bookkeeping holds (typed arrays exactly; objects estimated). */
  bookkeepingBytes: number;
  /**
   * An estimate of the JS heap the views of live blocks take (about 112
   * bytes per view, measured on Node 20: a Uint8Array with the two private
   * fields that tie it to its block; large blocks also hold their own
   * ArrayBuffer). Counted per live block, one view each. Not included in
   * `bookkeepingBytes`, which is the arena's own memory.
   */
  viewBytes: number;
  /**
   * Bytes under guard pages now (`guardPages`): the guard pages after live
   * blocks. They are committed but not `allocated`, not free and not
   * `retained`, and they are never resident. 0 without guard pages.
   */
  guardBytes: number;
  /** Live blocks handed out by `allocHandle()` (their bytes are in `allocated`). */
  handles: number;
}

/** The keys of freeBytesByClass, made once. */
const CLASS_KEYS = CLASSES.keys;

/** Rough heap cost of the bookkeeping objects, for `bookkeepingBytes`. */
const CHUNK_OBJECT_BYTES = 48;
/** JS heap of one block's view (measured on Node 20: 112-114 bytes) and of an ArrayBuffer object. */
const VIEW_BYTES = 112;
const BUFFER_BYTES = 80;

const definePropertyOf = Object.defineProperty;
const definePropertiesOf = Object.defineProperties;
/**
 * Descriptors of `resident` and `mappings` measured when first read (then
 * kept as plain values): made once per arena, so a `stats()` call makes no
 * closure.
 */
function lazyMeasures(resident: () => number, mappings: () => number): PropertyDescriptorMap {
  const once = (key: string, measure: () => number): PropertyDescriptor => ({
    enumerable: true,
    configurable: true,
    get(this: object) {
      const value = measure();
      definePropertyOf(this, key, { value, enumerable: true, writable: true, configurable: true });
      return value;
    },
  });
  return { resident: once('resident', resident), mappings: once('mappings', mappings) };
}

/** The arena's stats (see `Arena.stats`); `measure`: take `resident` and `mappings` now. */
export function statsOf(h: Heap, measure: boolean): ArenaStats {
  h.live();
  // Frees past the bound queued in this burst go back first, so what stats()
  // reports is what the next moment holds.
  flushQuiet(h);
  if (h.asideP.length > 0) releaseAside(h);
  const freeBytesByClass: Record<string, number> = {};
  for (let c = 0; c < h.classCount; c++) {
    const f = h.classFree[c]!;
    if (f > 0) freeBytesByClass[CLASS_KEYS[c]!] = f;
  }
  freeBytesByClass.pages = h.runs.freePages * h.page;
  const bookkeeping =
    h.runs.bookkeepingBytes() + h.slabBookBytes + h.ownCount * OWN_OBJECT_BYTES + h.segments * CHUNK_OBJECT_BYTES +
    (h.slabs.length + h.own.length + h.segOf.length) * 8 + (h.handles === null ? 0 : h.handles.bookkeepingBytes());
  const ru = rusageRaw(C.RUSAGE_THREAD);
  const out = {
    reserved: h.reserve,
    committed: h.committed,
    allocated: h.allocated,
    freeBytesByClass,
    retained: h.dirtyPages() * h.page,
    giveBack: batchedGiveBack(h.purgeAdvice) ? 'process_madvise' : 'madvise',
    threadFaults: ru[0]! + ru[1]! - h.faultBase,
    bookkeepingBytes: bookkeeping,
    viewBytes: (liveSmall(h) + h.runViews) * VIEW_BYTES + h.ownCount * (VIEW_BYTES + BUFFER_BYTES),
    guardBytes: h.guardBlocks * h.guard * h.page,
    handles: h.handles === null ? 0 : h.handles.blocks,
  } as ArenaStats;
  if (measure) {
    out.resident = resident(h);
    out.mappings = mappings(h);
  } else {
    h.lazy ??= lazyMeasures(() => resident(h), () => mappings(h));
    definePropertiesOf(out, h.lazy);
  }
  return out;
}

/** Live small blocks, from the per-class counters. */
function liveSmall(h: Heap): number {
  let n = 0;
  const slab = h.slabBytes;
  for (let c = 0; c < h.classCount; c++) {
    const size = h.sizes[c]!;
    n += (h.slabsByClass[c]! * floor(slab / size) * size - h.classFree[c]!) / size;
  }
  return n;
}

function resident(h: Heap): number {
  h.live();
  return h.committed > 0 ? residencyOfRange(h.region, h.start, h.committed, { source: 'mincore' }).bytes : 0;
}

function mappings(h: Heap): number {
  h.live();
  const lo = nRegionAddress(h.region);
  const hi = lo + BigIntOf(h.regionLength);
  let mappings = 0;
  for (const e of readMaps()) if (e.start < hi && e.end > lo) mappings++;
  return mappings;
}
