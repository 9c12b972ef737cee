/**
 * The arena's options: their types and documentation, the defaults, and
 * {@link resolveArenaOptions}, which checks every option (each read once)
 * before any system call and returns the settings the arena is built from.
 * @internal
 */
import { pageSize, hugePageSize, maxArrayBufferLength } from '../kernel/system';
import { checkVmaName, vmaNamesSupported } from '../mapping';
import { invalidType, invalidValue, outOfRange } from '../errors';
import { requireFeature } from '../kernel/features';
import { ceil, floor, max, min } from './intrinsics';
import { checkArenaBoolean, checkArenaInteger, readOptions } from './checks';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Default reservation: 1 GiB of address space. */
const DEFAULT_RESERVE = GiB;
/** Default commit granularity. */
const DEFAULT_CHUNK = 4 * MiB;
/** The most one commit adds to grow the arena (see `Heap.commit`). */
export const GROW_MAX = GiB;
/**
 * Blocks of at least this many bytes are large: their own ArrayBuffer,
 * detached and purged (`MADV_DONTNEED`) on free.
 */
export const LARGE_BLOCK_BYTES = 256 * KiB;
/** Page runs are limited by the 28-bit lengths of the page bookkeeping. */
const MAX_PAGES = 2 ** 28;

/** Options of {@link Arena}. */
export interface ArenaOptions {
  /** Bytes of address space to reserve (`PROT_NONE | MAP_NORESERVE`), rounded up to whole chunks. Default 1 GiB. */
  reserve?: number;
  /**
   * Commit granularity in bytes: a multiple of the page size (of the THP size
   * with `hugePages`), at most the largest ArrayBuffer Node allows. Default
   * 4 MiB (or the THP size if larger).
   */
  chunkSize?: number;
  /**
   * `true`: align the committed space to the THP size read from the kernel
   * and advise `MADV_HUGEPAGE`. `false`: advise `MADV_NOHUGEPAGE` (exact 4K
   * faults and residency whatever the THP mode). Unset: the system default.
   */
  hugePages?: boolean;
  /** Prefault every chunk as it is committed (`MADV_POPULATE_WRITE`, or a touch loop). Default false. */
  prefault?: boolean;
  /** Names the reservation `[anon:pagewise:NAME]` where the kernel can (see `vmaNamesSupported()`). Default `'arena'`. */
  name?: string;
  /**
   * How free pages are given back by `purge()`, the freeing of large blocks
   * and `reset()`: `'dontneed'` (default: RSS drops now, pages read back as
   * zero) or `'free'` (`MADV_FREE`: lazy, the kernel takes the pages only
   * under memory pressure, so RSS stays until then and old contents may
   * survive).
   */
  purge?: 'dontneed' | 'free';
  /**
   * Bytes of free, dirty pages kept for reuse (retention, as jemalloc and
   * mimalloc keep dirty pages): a freed block's pages stay resident so the
   * next block reuses them without page faults or system calls. A free that
   * would pass this bound gives its own pages back: queued, and a burst of
   * such frees goes back in one `process_madvise` (one `madvise` each where
   * the kernel lacks it) when the synchronous code that freed them ends (a
   * microtask), before the next allocation takes pages, or at `stats()`,
   * `purge()` or `reset()`. `0` gives back every page as soon as nothing
   * lives on it, in the same way. Default: automatic, the larger of 8 MiB
   * and the most pages in use since the last `purge()` (so a program that
   * frees and allocates again its working set takes no page fault, and one
   * that uses little keeps little); the decay gives it back over time.
   */
  retain?: number;
  /**
   * Milliseconds after which free pages that stayed unused are given back
   * (a timer that does not keep the process alive; it runs only while the
   * arena holds free dirty pages): each period, if free dirty pages were
   * left unused for the whole period, `purge()` runs. `false` or `0`: no
   * decay (only `purge()`, `reset()` and the `retain` bound give back).
   * Default 1000.
   */
  decay?: number | false;
  /**
   * Guard pages after every block served by page runs (blocks larger than
   * the small-block limit, `LARGE_BLOCK_BYTES` and up among them): `true`
   * for one page, or a number of pages (0 to 1024). A guard page is a
   * `MADV_GUARD_INSTALL` marker (Linux 6.13+): any access to it, from native
   * code that overruns the block, is a SIGSEGV instead of a write into the
   * neighbouring block, and it costs no extra kernel mapping (the VMA is not
   * split, unlike `PROT_NONE`). With guards every such block gets its own
   * ArrayBuffer over exactly its pages, so no view or buffer the arena makes
   * ever covers a guard page. The guard is installed when the block is
   * allocated and removed when it is freed, grown by `realloc` (moved to the
   * new end) or dropped by `reset()`; its pages are not counted as
   * allocated, free or retained (`stats().guardBytes` reports them). On a
   * kernel without guard regions the constructor throws
   * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` naming Linux 6.13 (pass
   * `guardPages: kernelHas('guard')` to use them only where they exist).
   * Default `false`.
   */
  guardPages?: boolean | number;
  /**
   * Checked handles: each handle block has a generation, bumped when it is
   * freed, and `allocHandle` returns `generation * 2**32 + offset`, so a
   * stale handle is refused even after its memory was handed out again (a
   * use after free caught at `freeHandle`, `sizeOfHandle`, `reallocHandle`,
   * `bytes` and `offsetOfHandle`). Index `heap` with
   * `arena.offsetOfHandle(h)` (checked) or `h % 2**32`. Costs 2 bytes of
   * bookkeeping per slot. Default false: a handle is the offset itself.
   */
  handleGenerations?: boolean;
}

/** Options of {@link Arena.reset}. */
export interface ArenaResetOptions {
  /**
   * Keep the committed pages as they are, dirty, for the next round: no
   * `madvise`, so the next blocks reuse resident memory without faults.
   * They count as retained and go back by decay or `purge()`. Default false.
   */
  keep?: boolean;
  /**
   * Also return the commit (`mmap(MAP_FIXED, PROT_NONE)` over the committed
   * range), so the charge goes back under `overcommit_memory=2` or
   * `RLIMIT_DATA`. Default false: keep it committed for reuse.
   */
  decommit?: boolean;
}

const ARENA_OPTIONS = ['reserve', 'chunkSize', 'hugePages', 'prefault', 'name', 'purge', 'retain', 'decay', 'guardPages', 'handleGenerations'] as const;
/** The most guard pages after one block. */
export const MAX_GUARD_PAGES = 1024;
/** Default `retain` floor: free dirty bytes kept for reuse at least (the bound then follows peak use). */
const DEFAULT_RETAIN = 8 * 1024 * 1024;
/** Default `decay` in milliseconds. */
const DEFAULT_DECAY_MS = 1000;

/** The settings an arena is built from, every option checked. */
export interface ArenaConfig {
  readonly page: number;
  /** The commit unit: the page size, or the THP size with `hugePages: true`. */
  readonly unit: number;
  readonly huge: boolean | undefined;
  readonly chunk: number;
  readonly maxChunk: number;
  readonly reserve: number;
  readonly prefault: boolean;
  /** The VMA name to set (`pagewise:NAME`), or null where the kernel cannot name memory. */
  readonly vmaName: string | null;
  /** The arena's name (`options.name`, default `'arena'`), kept where the kernel cannot name memory too: the metrics' `arena` label. */
  readonly name: string;
  readonly retain: number;
  /** No `retain` given: the bound follows the peak of pages in use (`retain` is its floor). */
  readonly retainAuto: boolean;
  /** Decay period in milliseconds; 0 for none. */
  readonly decay: number;
  readonly purge: 'dontneed' | 'free';
  /** Guard pages after each page-run block; 0 for none. */
  readonly guardPages: number;
  /** Checked handles (generations). */
  readonly handleGenerations: boolean;
}

/** Checks `options` (TypeError/RangeError before any system call) and returns the settings. */
export function resolveArenaOptions(options: ArenaOptions | undefined): ArenaConfig {
  const o = readOptions('options', options, ARENA_OPTIONS);
  const page = pageSize();
  const huge = o.hugePages === undefined ? undefined : checkArenaBoolean('options.hugePages', o.hugePages);
  let unit = page;
  if (huge) {
    const thp = hugePageSize();
    if (thp === null) {
      throw invalidValue('options.hugePages', 'needs transparent huge pages, which this kernel lacks (/sys/kernel/mm/transparent_hugepage)', true);
    }
    unit = max(thp, page);
  }
  const maxChunk = floor(maxArrayBufferLength() / unit) * unit;
  let chunk: number;
  if (o.chunkSize === undefined) {
    chunk = min(ceil(DEFAULT_CHUNK / unit) * unit, maxChunk);
  } else {
    chunk = checkArenaInteger('options.chunkSize', o.chunkSize, unit, maxChunk);
    if (chunk % unit !== 0) {
      throw outOfRange('options.chunkSize', `a multiple of the ${huge ? 'huge page' : 'page'} size (${unit})`, chunk);
    }
  }
  const maxReserve = floor((MAX_PAGES * page) / chunk) * chunk;
  const reserveAsked = o.reserve === undefined ? DEFAULT_RESERVE : checkArenaInteger('options.reserve', o.reserve, 1, maxReserve);
  const reserve = ceil(reserveAsked / chunk) * chunk;
  if (reserve > maxReserve) throw outOfRange('options.reserve', `<= ${maxReserve}`, reserveAsked);
  const prefault = o.prefault === undefined ? false : checkArenaBoolean('options.prefault', o.prefault);
  let vmaName: string | null = null;
  const nameAsked = o.name;
  let arenaName = 'arena';
  if (nameAsked === undefined || vmaNamesSupported()) {
    const name = nameAsked === undefined ? 'arena' : checkVmaName(nameAsked);
    if (name.length > 70) throw invalidValue('options.name', 'must be at most 70 characters (79 with the "pagewise:" prefix)', name);
    vmaName = `pagewise:${name}`;
    arenaName = name;
  } else {
    arenaName = checkVmaName(nameAsked);
  }
  const retain = o.retain === undefined ? DEFAULT_RETAIN : checkArenaInteger('options.retain', o.retain, 0, Number.MAX_SAFE_INTEGER);
  const decayAsked = o.decay;
  const decay = decayAsked === undefined ? DEFAULT_DECAY_MS : decayAsked === false ? 0 : checkArenaInteger('options.decay', decayAsked, 0, 2 ** 31 - 1);
  const purge = o.purge === undefined ? 'dontneed' : o.purge;
  if (purge !== 'dontneed' && purge !== 'free') throw invalidValue('options.purge', "must be 'dontneed' or 'free'", purge);
  const guardAsked = o.guardPages;
  if (guardAsked !== undefined && typeof guardAsked !== 'boolean' && typeof guardAsked !== 'number') {
    throw invalidType('options.guardPages', 'of type boolean or number', guardAsked);
  }
  const guardPages =
    guardAsked === undefined || guardAsked === false ? 0 : guardAsked === true ? 1 : checkArenaInteger('options.guardPages', guardAsked, 0, MAX_GUARD_PAGES);
  // A clear error rather than an arena without the protection it was asked for.
  if (guardPages > 0) requireFeature('guard');
  return {
    page, unit, huge, chunk, maxChunk, reserve, prefault,
    vmaName: vmaName !== null && vmaNamesSupported() ? vmaName : null, name: arenaName,
    retain, retainAuto: o.retain === undefined, decay, purge, guardPages,
    handleGenerations: o.handleGenerations === undefined ? false : checkArenaBoolean('options.handleGenerations', o.handleGenerations),
  };
}
