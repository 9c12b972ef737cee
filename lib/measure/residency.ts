/**
 * Exact residency of one range of memory, with the source named:
 * `mincore`, `/proc/self/pagemap`, or `ioctl(PAGEMAP_SCAN)` (Linux 6.7+).
 */
import { asMapping, type Mapping } from '../mapping';
import type { RegionHandle } from '../native/binding';
import { pageSize } from '../kernel/system';
import { checkAligned, checkBoolean, checkInteger, checkOptions, checkRange } from '../validate';
import { invalidState, invalidType, invalidValue, outOfRange } from '../errors';
import { ErrnoNames } from './errno';
import { knownZeroPfn } from './zeropage';
import { native } from '../native/binding';
import { kernelHas } from '../kernel/features';
import { guardPageCount, guardRanges } from '../kernel/pagemap-fd';

/** Where residency comes from. */
export type ResidencySource = 'mincore' | 'pagemap' | 'pagemap_scan';

/** Options of {@link residency}. */
export interface ResidencyOptions {
  /**
   * `'auto'` (default): `pagemap_scan` where the kernel has it, else
   * `pagemap`, else `mincore`. Asking for one source uses it, or falls back
   * to the next and says why in `fallback`.
   */
  source?: 'auto' | ResidencySource;
  /**
   * The guard-page scan (one `PAGEMAP_SCAN` for {@link Residency.guard}).
   * Default: only over regions pagewise installed guard pages in
   * (`mapping.guard()`, `advise('guard_install')`, an arena's guard pages),
   * the only way pagewise makes them; elsewhere `guard` is 0 without a scan.
   * `true`: scan whatever pagewise knows (guard pages installed by other
   * code, through raw `madvise`). `false`: no scan, `guard` is `null`.
   */
  guard?: boolean;
}

/**
 * Pages of a range that are in memory now, by page-table inspection (exact
 * at that moment). Counts the source cannot tell are `null`.
 */
export interface Residency {
  /**
   * Resident pages that count towards RSS: present pages, less those mapping
   * the shared zero page where the source can tell them apart
   * (`pagemap_scan`; `pagemap` with visible PFNs once the zero page's PFN is
   * known). Otherwise every present page.
   */
  pages: number;
  /** `pages` times the page size. */
  bytes: number;
  /** The source used. */
  source: ResidencySource;
  /** Always `true`: each source reads the page tables, not counters. */
  exact: true;
  /** Why the requested source was not used, or `null`. */
  fallback: string | null;
  /**
   * What `pages` counts: `'process'`, pages mapped in this process's page
   * tables (what its RSS counts); or `'page-cache'`, when only `mincore` could
   * be used on a shared or file mapping, where it reports pages in the page
   * cache whether or not this process maps them.
   */
  counts: 'process' | 'page-cache';
  /** Present page-table entries (the zero page included). */
  present: number;
  /** Pages in swap (pagemap, pagemap_scan). */
  swapped: number | null;
  /** Present pages mapped by this process only (pagemap bit 56). */
  exclusive: number | null;
  /** Pages with the soft-dirty bit (pagemap bit 55; PAGE_IS_SOFT_DIRTY). */
  softDirty: number | null;
  /** File pages or shared anonymous pages (pagemap bit 61; PAGE_IS_FILE). */
  fileOrShared: number | null;
  /** Present pages mapping the shared zero page. */
  zeroPage: number | null;
  /**
   * Guard pages in the range (installed with `mapping.guard()`,
   * `MADV_GUARD_INSTALL`): counted by `PAGEMAP_SCAN`'s `PAGE_IS_GUARD`
   * (Linux 6.15, the same fact as pagemap bit 58), whatever the source of
   * the other counts. `null` (unknown, never a guess of 0) where the kernel
   * cannot tell (`kernelHas('guardReport')` is false).
   */
  guard: number | null;
}

const pmOut = new Float64Array(7);
const scanOut = new Float64Array(6);
let scanErrno: number | undefined; // 0 works, else the errno it failed with
let pagemapError: string | undefined;

function scanWhy(errno: number): string {
  const name = ErrnoNames[errno] ?? `errno ${errno}`;
  return `ioctl(PAGEMAP_SCAN) failed with ${name} (it needs Linux 6.7+)`;
}


/** How the guard count is found: scan where pagewise guarded (`'auto'`), always (`true`), or never (`false`). */
type GuardScan = 'auto' | boolean;

function guardIn(region: RegionHandle, offset: number, length: number, page: number, scan: GuardScan): number | null {
  if (scan === false || !kernelHas('guardReport')) return null;
  // Guard pages exist only where someone installed them: pagewise records
  // every install it makes in the region (sticky), so a region it never
  // guarded has none unless other code put them there (`guard: true`).
  if (scan === 'auto' && !native.regionGuarded(region)) return 0;
  const start = native.regionAddress(region) + BigInt(offset);
  return guardPageCount(guardRanges(start, start + BigInt(Math.ceil(length / page) * page)), page);
}

function viaMincore(region: RegionHandle, offset: number, length: number, fallback: string | null, page: number, scan: GuardScan, pageCache = false): Residency {
  const present = native.mincore(region, offset, length, null);
  return {
    pages: present, bytes: present * page, source: 'mincore', exact: true, fallback, counts: pageCache ? 'page-cache' : 'process', present,
    swapped: null, exclusive: null, softDirty: null, fileOrShared: null, zeroPage: null, guard: guardIn(region, offset, length, page, scan),
  };
}

function viaPagemap(region: RegionHandle, offset: number, length: number, fallback: string | null, page: number, scan: GuardScan): Residency | string {
  if (pagemapError) return pagemapError;
  const zpfn = knownZeroPfn();
  try {
    native.pagemapCount(region, offset, length, pmOut, zpfn);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'ERR_PAGEWISE_INTERNAL') throw err;
    pagemapError = `/proc/self/pagemap could not be read (${e.code ?? e.message})`;
    return pagemapError;
  }
  const present = pmOut[0]!;
  // The zero page is recognisable only by its PFN, visible with CAP_SYS_ADMIN.
  const zero = zpfn !== 0n && pmOut[5]! === present ? pmOut[6]! : null;
  const pages = present - (zero ?? 0);
  return {
    pages, bytes: pages * page, source: 'pagemap', exact: true, fallback, counts: 'process', present,
    swapped: pmOut[1]!, exclusive: pmOut[3]!, softDirty: pmOut[4]!, fileOrShared: pmOut[2]!, zeroPage: zero, guard: guardIn(region, offset, length, page, scan),
  };
}

function viaScan(region: RegionHandle, offset: number, length: number, page: number, scan: GuardScan): Residency | string {
  if (scanErrno !== undefined && scanErrno !== 0) return scanWhy(scanErrno);
  const rc = native.pagemapScan(region, offset, length, scanOut);
  if (rc !== 0) {
    scanErrno = rc;
    return scanWhy(rc);
  }
  scanErrno = 0;
  const present = scanOut[0]!;
  const zero = scanOut[2]!;
  return {
    pages: present - zero, bytes: (present - zero) * page, source: 'pagemap_scan', exact: true, fallback: null, counts: 'process', present,
    swapped: scanOut[1]!, exclusive: null, softDirty: scanOut[4]!, fileOrShared: scanOut[3]!, zeroPage: zero, guard: guardIn(region, offset, length, page, scan),
  };
}

interface Asked {
  source: 'auto' | ResidencySource;
  guard: GuardScan;
}

const DEFAULT_ASKED: Asked = { source: 'auto', guard: 'auto' };

function askedOf(options: ResidencyOptions | undefined): Asked {
  if (options === undefined) return DEFAULT_ASKED;
  const o = checkOptions<ResidencyOptions>('options', options, ['source', 'guard']);
  const s = o.source === undefined ? 'auto' : o.source;
  if (s !== 'auto' && s !== 'mincore' && s !== 'pagemap' && s !== 'pagemap_scan') {
    throw invalidValue('options.source', "must be 'auto', 'mincore', 'pagemap' or 'pagemap_scan'", s);
  }
  return { source: s, guard: o.guard === undefined ? 'auto' : checkBoolean('options.guard', o.guard) };
}

const MINCORE_SHARED =
  "mincore reports page-cache pages of shared and file mappings (whether or not this process maps them), not this process's resident pages";

function measureRange(region: RegionHandle, offset: number, length: number, asked: Asked, sharedOrFile = false): Residency {
  const page = pageSize();
  const { source, guard: scan } = asked;
  // mincore on shared and file mappings answers for the page cache: the page
  // tables answer for this process, so they are used instead, labelled.
  const mincoreOnShared = source === 'mincore' && sharedOrFile;
  if (source === 'mincore' && !sharedOrFile) return viaMincore(region, offset, length, null, page, scan);
  let why: string | null = mincoreOnShared ? MINCORE_SHARED : null;
  if (source === 'auto' || source === 'pagemap_scan' || mincoreOnShared) {
    const r = viaScan(region, offset, length, page, scan);
    if (typeof r !== 'string') return why === null ? r : { ...r, fallback: `${why}; used pagemap_scan` };
    why = why === null ? r : `${why}; ${r}`;
  }
  const p = viaPagemap(region, offset, length, why === null ? null : `${why}; used pagemap`, page, scan);
  if (typeof p !== 'string') return p;
  return viaMincore(region, offset, length, `${why === null ? '' : `${why}; `}${p}; used mincore`, page, scan, sharedOrFile);
}

/**
 * Residency of `[offset, offset + length)` of a mapping (offset
 * page-aligned, default the whole mapping), exact at the moment of the call.
 *
 * @example
 * const m = mmap(64 * pageSize());
 * m.view()[0] = 1;
 * residency(m).pages; // 1
 */
export function residency(mapping: Mapping, offset?: number, length?: number, options?: ResidencyOptions): Residency {
  const m = asMapping(mapping);
  const [off, len] = checkRange(m.length, m.pageSize, offset, length);
  return measureRange(m.region, off, len, askedOf(options), m.kind.shared || m.kind.file);
}

/**
 * {@link residency} over a native region handle (for modules of this
 * package that hold a `RegionHandle`, such as the arena). `offset` must be
 * page-aligned and the range inside the region (checked natively).
 */
export function residencyOfRange(region: RegionHandle, offset: number, length: number, options?: ResidencyOptions): Residency {
  const off = checkAligned('offset', offset, pageSize());
  const len = checkInteger('length', length, 0);
  const asked = askedOf(options);
  try {
    return measureRange(region, off, len, asked);
  } catch (err) {
    // The native layer's own checks, in the documented shape.
    // The native layer's own checks (its `reason`), in the documented shape.
    const e = err as Error & { code?: string; reason?: string };
    if (e.code !== 'ERR_PAGEWISE_INTERNAL') throw err;
    if (e.reason === 'not-a-region') throw invalidType('region', 'a region handle (mapping.region)', region);
    if (e.reason === 'unmapped') throw invalidState('The region is unmapped');
    if (e.reason === 'range') throw outOfRange('length', 'a range inside the region', length);
    throw err;
  }
}
