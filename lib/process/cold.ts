/**
 * Cold pages: which resident pages of a range were not written
 * since a mark, and handing them to the kernel's reclaim in one batched
 * `process_madvise`.
 *
 * Writes are tracked with userfaultfd write-protect in async mode and read
 * with `ioctl(PAGEMAP_SCAN)` category `PAGE_IS_WRITTEN` (Linux 6.7): the mark
 * write-protects the range's pages, the first write to each takes one minor
 * fault that the kernel resolves by itself (no handler thread, nothing can
 * wait), and a scan lists the pages written since. It is per range, so it
 * disturbs nothing else in the process. Where the kernel lacks it, soft-dirty
 * bits serve (`clear_refs` `4`, which clears them for the whole process, and
 * pagemap bit 55; they need `CONFIG_MEM_SOFT_DIRTY`, which some kernels, the
 * development VM's among them, are built without). Reads are not tracked: a
 * page only read since the mark counts as cold.
 */
import * as fs from 'node:fs';
import { native } from '../native/binding';
import { Mapping } from '../mapping';
import { requireFeature, kernelHas } from '../kernel/features';
import { pagemapFd } from '../kernel/pagemap-fd';
import { readMeminfo } from '../kernel/meminfo';
import { writeClearRefs } from '../kernel/clear-refs';
import { PM_PRESENT, PM_SOFT_DIRTY, readPagemap } from '../kernel/pagemap';
import { checkObject, checkOptions, checkBoolean } from '../validate';
import { invalidType, invalidState, invalidValue, outOfRange } from '../errors';
import { pageSize } from '../kernel/system';
import { bufferPages } from './discard';

/**
 * How writes are tracked: `'userfaultfd-wp-async'` (Linux 6.7, per range) or,
 * where that is missing, `'soft-dirty'` (`CONFIG_MEM_SOFT_DIRTY`: `clear_refs`
 * `4` clears the bits of the whole process, so a soft-dirty mark resets every
 * other soft-dirty tracker's mark too).
 */
export type TrackMethod = 'userfaultfd-wp-async' | 'soft-dirty';

/** What a tracker or a scan covers: a Mapping, or an ArrayBuffer/view (its whole pages). */
export type TrackTarget = Mapping | ArrayBuffer | ArrayBufferView;

function rangeOf(target: unknown): { start: bigint; end: bigint } {
  if (Mapping.isMapping(target)) {
    if (!target.mapped) throw invalidState('The mapping is unmapped');
    if (target.kind.file || target.kind.shared) throw invalidValue('target', 'must be private anonymous memory (write tracking works on anonymous mappings)', target);
    return { start: target.address, end: target.address + BigInt(target.length) };
  }
  if (typeof target !== 'object' || target === null) throw invalidType('target', 'a Mapping, an ArrayBuffer or a view', target);
  const p = bufferPages(target);
  return { start: p.first, end: p.last > p.first ? p.last : p.first };
}

const trackers = new FinalizationRegistry<number>((fd) => {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
});

/**
 * A mark: the range's pages are write-protected (asynchronously: a write is
 * never held up beyond one minor fault), and {@link coldPages} lists the
 * resident pages not written since. `close()` ends tracking (also done when
 * the tracker is collected).
 */
export class WriteTracker {
  #fd: number;
  #start: bigint;
  #end: bigint;
  #method: TrackMethod;
  #closed = false;
  #token = {};
  /** @internal */
  constructor(fd: number, start: bigint, end: bigint, method: TrackMethod) {
    this.#fd = fd;
    this.#start = start;
    this.#end = end;
    this.#method = method;
    if (fd >= 0) trackers.register(this, fd, this.#token);
  }
  /** The tracked address range `[start, end)`. */
  get start(): bigint {
    return this.#start;
  }
  get end(): bigint {
    return this.#end;
  }
  /** How writes are tracked. */
  get method(): TrackMethod {
    return this.#method;
  }
  /** @internal The userfaultfd (-1 for soft-dirty tracking). */
  get fd(): number {
    return this.#fd;
  }
  /** Whether {@link WriteTracker.close} ran. */
  get closed(): boolean {
    return this.#closed;
  }
  /** Stops tracking (closing the userfaultfd unregisters the range). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#fd < 0) return;
    trackers.unregister(this.#token);
    fs.closeSync(this.#fd);
    this.#fd = -1;
  }
  /** Whether `value` is a tracker made here. */
  static isTracker(value: unknown): value is WriteTracker {
    return typeof value === 'object' && value !== null && #fd in value;
  }
}

/**
 * Starts tracking writes to `target` (a private anonymous Mapping, or the
 * whole pages of an ArrayBuffer or view) and marks now. Uses userfaultfd
 * write-protect (Linux 6.7, `kernelHas('writeTracking')`), else soft-dirty
 * bits (`kernelHas('softDirty')`: `clear_refs` `4`, process-wide); where
 * neither exists throws `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`. A range another userfaultfd already
 * covers fails with `EBUSY` (`syscall: 'ioctl'`). Every page becomes
 * write-protected: the first write to each afterwards costs one minor fault.
 */
export function trackWrites(target: TrackTarget): WriteTracker {
  const { start, end } = rangeOf(target);
  if (end <= start) throw outOfRange('target', 'at least one whole page', Number(end - start));
  if (!kernelHas('writeTracking') && kernelHas('softDirty')) {
    writeClearRefs(4);
    return new WriteTracker(-1, start, end, 'soft-dirty');
  }
  requireFeature('writeTracking');
  const fd = native.userfaultfdWpAsync(start, Number(end - start));
  try {
    const W = native.givebackConstants.PAGE_IS_WRITTEN;
    native.pagemapScanRanges(pagemapFd(), start, end, true, 0, W, 0, W);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return new WriteTracker(fd, start, end, 'userfaultfd-wp-async');
}

/** One run of pages. */
export interface PageRange {
  address: bigint;
  length: number;
}

/** What {@link coldPages} found. */
export interface ColdPages {
  /** Runs of resident pages not written since the mark. */
  ranges: PageRange[];
  /** Their pages, and the resident pages written since the mark. */
  coldPages: number;
  writtenPages: number;
  /** Bytes of the cold pages. */
  coldBytes: number;
  method: TrackMethod;
}

/** Options of {@link coldPages}. */
export interface ColdPagesOptions {
  /** The mark: a tracker from {@link trackWrites} over (at least) this range. */
  since: WriteTracker;
  /** Mark again in the same scan (each page is read and write-protected at once: no write is missed). Default false. */
  reset?: boolean;
}

/**
 * The resident pages of `target` (a Mapping or buffer the tracker covers)
 * not written since the tracker's mark (or its last `reset`), as runs, by one
 * `PAGEMAP_SCAN` walk.
 */
export function coldPages(target: TrackTarget, options: ColdPagesOptions): ColdPages {
  const o = checkOptions<ColdPagesOptions>('options', checkObject('options', options), ['since', 'reset']);
  if (!WriteTracker.isTracker(o.since)) throw invalidType('options.since', 'a WriteTracker (from trackWrites())', o.since);
  const reset = o.reset === undefined ? false : checkBoolean('options.reset', o.reset);
  const { start, end } = rangeOf(target);
  const t = o.since;
  if (t.closed) throw invalidState('The WriteTracker is closed');
  if (start < t.start || end > t.end) throw outOfRange('target', `inside the tracked range 0x${t.start.toString(16)}-0x${t.end.toString(16)}`, `0x${start.toString(16)}-0x${end.toString(16)}`);
  const C = native.givebackConstants;
  const page = pageSize();
  if (t.method === 'soft-dirty') return softDirtyCold(start, end, reset);
  const runs = end > start ? native.pagemapScanRanges(pagemapFd(), start, end, reset, 0, C.PAGE_IS_PRESENT, 0, C.PAGE_IS_PRESENT | C.PAGE_IS_WRITTEN) : new BigUint64Array(0);
  const ranges: PageRange[] = [];
  let cold = 0;
  let written = 0;
  for (let i = 0; i + 2 < runs.length; i += 3) {
    const s = runs[i]!, e = runs[i + 1]!, cat = Number(runs[i + 2]!);
    const n = Number(e - s) / page;
    if (cat & C.PAGE_IS_WRITTEN) written += n;
    else {
      cold += n;
      const last = ranges[ranges.length - 1];
      if (last && last.address + BigInt(last.length) === s) last.length += Number(e - s);
      else ranges.push({ address: s, length: Number(e - s) });
    }
  }
  return { ranges, coldPages: cold, writtenPages: written, coldBytes: cold * page, method: 'userfaultfd-wp-async' };
}

/**
 * The soft-dirty way: one pread of pagemap (bit 63 present, bit 55 written
 * since clear_refs 4); `reset` clears the bits again afterwards (a write
 * between the read and the clear is missed).
 */
function softDirtyCold(start: bigint, end: bigint, reset: boolean): ColdPages {
  const page = pageSize();
  const entries = readPagemap(start, Number(end - start) / page);
  if (reset) writeClearRefs(4);
  const ranges: PageRange[] = [];
  let cold = 0;
  let written = 0;
  entries.forEach((e, i) => {
    if (!(e & PM_PRESENT)) return;
    if (e & PM_SOFT_DIRTY) {
      written++;
      return;
    }
    cold++;
    const a = start + BigInt(i * page);
    const last = ranges[ranges.length - 1];
    if (last && last.address + BigInt(last.length) === a) last.length += page;
    else ranges.push({ address: a, length: page });
  });
  return { ranges, coldPages: cold, writtenPages: written, coldBytes: cold * page, method: 'soft-dirty' };
}

/** What {@link reclaim} did. */
export interface ReclaimResult {
  /** Bytes advised. */
  bytes: number;
  /** `process_madvise` calls made (one per up to IOV_MAX ranges). */
  calls: number;
  advice: 'cold' | 'pageout';
  /** Resident pages of the ranges before and after (mincore). */
  residentBefore: number;
  residentAfter: number;
  /** SwapTotal of /proc/meminfo: without swap (or zswap, which needs a swap device too) anonymous pages cannot be paged out and stay resident. */
  swapTotal: number | null;
}

/**
 * Hands `ranges` (from {@link coldPages}, or `{ address, length }` runs of
 * whole pages) to the kernel's reclaim with one `process_madvise` per
 * IOV_MAX ranges: `'cold'` (`MADV_COLD`: deactivate, reclaimed first under
 * pressure) or `'pageout'` (`MADV_PAGEOUT`: reclaim now: anonymous pages go to
 * swap). Contents never change: a page read later faults back in. Without
 * swap, anonymous pages stay resident whatever the advice.
 */
export function reclaim(ranges: ColdPages | readonly PageRange[], advice: 'cold' | 'pageout'): ReclaimResult {
  const list = Array.isArray(ranges) ? (ranges as readonly PageRange[]) : typeof ranges === 'object' && ranges !== null && Array.isArray((ranges as ColdPages).ranges) ? (ranges as ColdPages).ranges : null;
  if (list === null) throw invalidType('ranges', 'an array of { address, length } or a coldPages() result', ranges);
  if (advice !== 'cold' && advice !== 'pageout') throw invalidValue('advice', "must be 'cold' or 'pageout'", advice);
  const page = pageSize();
  const addrs = new BigUint64Array(list.length);
  const lens = new Float64Array(list.length);
  list.forEach((r, i) => {
    if (typeof r !== 'object' || r === null || typeof r.address !== 'bigint' || typeof r.length !== 'number') throw invalidType(`ranges[${i}]`, 'an object { address: bigint, length: number }', r);
    if (r.address % BigInt(page) !== 0n || r.address < 0n) throw outOfRange(`ranges[${i}].address`, `a multiple of the page size (${page})`, r.address);
    if (!Number.isSafeInteger(r.length) || r.length < 0 || r.length % page !== 0) throw outOfRange(`ranges[${i}].length`, `a multiple of the page size (${page})`, r.length);
    addrs[i] = r.address;
    lens[i] = r.length;
  });
  if (list.length > 0 && !kernelHas('processMadvise')) requireFeature('processMadvise');
  const resident = (): number => list.reduce((n, r) => n + (r.length > 0 ? native.mincoreAt(r.address, r.length, null) : 0), 0);
  const before = resident();
  const C = native.constants;
  const [bytes, calls] = list.length ? native.processMadviseAt(addrs, lens, advice === 'cold' ? C.MADV_COLD : C.MADV_PAGEOUT) : [0, 0];
  const after = resident();
  let swapTotal: number | null = null;
  try {
    swapTotal = readMeminfo()['SwapTotal'] ?? null;
  } catch {
    // no /proc/meminfo
  }
  return { bytes, calls, advice, residentBefore: before, residentAfter: after, swapTotal };
}

