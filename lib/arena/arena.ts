/**
 * The arena: a `PROT_NONE | MAP_NORESERVE` reservation committed in chunks,
 * handing out `Uint8Array` views with JS-side bookkeeping.
 *
 * Layout. The reservation is one Region (native/region.h). Commit grows
 * contiguously from its start with `mprotect(READ|WRITE)`, a chunk at a
 * time, so the committed part stays one VMA (adjacent RW ranges merge) and
 * the mapping count stays at two or three however much is committed.
 *
 * Blocks, by size:
 *  - small (up to an eighth of a slab: 8 KiB with 4K pages): size classes,
 *    each served from slabs of 64 KiB (at least one page). A slab has its
 *    own external ArrayBuffer, made once when the slab is carved; a block is
 *    a `Uint8Array` over it, and a bitmap (one bit per block, 1 = free) is
 *    both the free list and the double-free check.
 *  - medium (whole pages, below 256 KiB): page runs from {@link PageRuns},
 *    viewed through the ArrayBuffer of the chunk that holds them (one per
 *    committed chunk, made when first needed). No ArrayBuffer is created per
 *    allocation. A run that crosses a chunk boundary gets its own buffer.
 *  - large (256 KiB and up): page runs with their own ArrayBuffer, made per
 *    allocation (about 1.8 µs, small against the block), detached when the
 *    block is freed and the pages purged, so RSS drops at once and a stale
 *    view reads as length 0.
 *
 * Which memory a view may still reach after `free()`: a large block's view
 * is detached. A small or medium block shares its slab's or chunk's buffer,
 * which cannot be detached for one block: its stale view stays readable and
 * writable (over memory the arena may hand out again) until its slab is
 * returned (all its blocks free), or `reset()`/`close()`. It never reaches
 * memory that is unmapped or not writable: those ranges are always detached
 * first, so the process cannot crash.
 *
 * Each view `alloc()` returns carries its owner (a slab, a chunk or a large
 * block) and its block number in private fields ({@link Block}); `free()`
 * accepts a view only if it has them and the owner is this arena's current
 * one, so double frees, stale views (after `reset()`), parts of blocks, views
 * of other arenas and plain `Uint8Array`s are refused with an error, never
 * misread. (A stale view of a small or medium block whose memory was handed
 * out again cannot be told from the new block's view: the classic ABA case.)
 *
 * Nothing a caller can reach is trusted. The owner records live only in
 * private fields (of views, of the arena's buffers, of the arena), never in
 * properties a caller could read or write; typed-array geometry is read
 * through the original getters, and every built-in the offsets passed to the
 * kernel depend on (`Math`, `Number.isInteger`, `Uint8Array`, array methods)
 * is captured at load (intrinsics.ts). The arena's tables are arrays without
 * a prototype, so an index getter or setter installed on `Array.prototype`
 * cannot answer for a hole.
 */
import { constants as osConstants } from 'node:os';
import { inspect } from 'node:util';
import { native, type RegionHandle } from '../native';
import { pageSize, hugePageSize, maxArrayBufferLength } from '../system';
import { adviceSupported } from '../flags';
import { kernelHas } from '../features';
import { checkVmaName, vmaNamesSupported } from '../mapping';
import { rusageRaw } from '../rusage';
import { readMaps } from '../proc/maps';
import { residencyOfRange } from '../measure/residency';
import { invalidState, invalidType, invalidValue, outOfRange } from '../validate';
import { CLASS_QUANTUM, sizeClasses } from './classes';
import { OWN, PageRuns, RUN, SLAB } from './pages';
import {
  abByteLengthOf, BigIntOf, bufferOf, byteLengthOf, byteOffsetOf, ceil, clz32, fillOf, floor, isInteger, isUint8Array, log2, max, min,
  I32, NumberOf, setOf, table, U32, U8, F64,
} from './intrinsics';
import { checkArenaBoolean, checkArenaInteger, notArena, readOptions } from './guard';

// The native calls, captured at load: a later change to the binding object
// does not reach the arena.
const {
  mmap: nMmap, munmap: nMunmap, mprotect: nMprotect, madvise: nMadvise, regionBuffer: nRegionBuffer,
  regionDetach: nRegionDetach, detachArrayBuffer: nDetach, regionRemap: nRegionRemap, regionAddress: nRegionAddress,
  prctlSetVmaAnonName: nSetName,
} = native;
const C = native.constants as Record<string, number>;
const PAGE = pageSize();
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Default reservation: 1 GiB of address space. */
const DEFAULT_RESERVE = GiB;
/** Default commit granularity. */
const DEFAULT_CHUNK = 4 * MiB;
/** The most one commit adds to grow the arena (see `#commit`). */
const GROW_MAX = GiB;
/** Slabs of small blocks are this size (or one page where pages are larger). */
const SLAB_BYTES = 64 * KiB;
/**
 * Blocks of at least this many bytes are large: their own ArrayBuffer,
 * detached and purged (`MADV_DONTNEED`) on free.
 */
export const LARGE_BLOCK_BYTES = 256 * KiB;
/** Page runs are limited by the 28-bit lengths of the page bookkeeping. */
const MAX_PAGES = 2 ** 28;

/** The size classes, computed once at load (the page size is fixed). */
const CLASSES = (() => {
  const slabBytes = ceil(SLAB_BYTES / PAGE) * PAGE;
  const c = sizeClasses(slabBytes);
  const count = c.sizes.length;
  const sizes = new U32(count);
  for (let i = 0; i < count; i++) sizes[i] = c.sizes[i]!;
  return { slabBytes, sizes, count, max: c.max, byQuantum: c.byQuantum, keys: c.sizes.map(String) };
})();

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
   * would pass this bound gives its own pages back at once (one `madvise`).
   * `0` gives back every page as soon as nothing lives on it. Default 64 MiB.
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
}

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
}

const ARENA_OPTIONS = ['reserve', 'chunkSize', 'hugePages', 'prefault', 'name', 'purge', 'retain', 'decay'] as const;
/** Default `retain`: free dirty bytes kept for reuse. */
const DEFAULT_RETAIN = 64 * 1024 * 1024;
/** Default `decay` in milliseconds. */
const DEFAULT_DECAY_MS = 1000;
const WeakRefOf = WeakRef;
const setIntervalOf = setInterval;
const clearIntervalOf = clearInterval;
/** Runs an arena's decay; false when its timer should stop (set in a static block of Arena). */
let decayTick: (a: Arena) => boolean;
function onDecayTimer(this: NodeJS.Timeout, ref: WeakRef<Arena>): void {
  const a = ref.deref();
  if (a === undefined || !decayTick(a)) clearIntervalOf(this);
}

const K_SLAB = 0;
const K_CHUNK = 1;
const K_OWN = 2;

/** A slab of equal small blocks, with its own ArrayBuffer. */
class Slab {
  readonly kind = K_SLAB;
  /** Free blocks; one bit per block, 1 = free. */
  free: number;
  /** No free block lies in a word before this one. */
  hint = 0;
  /** In its class's list of partly free slabs. */
  listed = false;
  /** Neighbours in its class's list of partly free slabs. */
  prevP: Slab | null = null;
  nextP: Slab | null = null;
  /**
   * Each page's state: the number of live blocks touching it (> 0); 0 when
   * none does and the page may hold data (free and dirty); -1 when it is
   * free and known clean (fresh, or purged since it was last used).
   */
  readonly st: Int32Array;
  constructor(
    readonly id: number,
    readonly cls: number,
    readonly size: number,
    readonly count: number,
    readonly page: number,
    public buf: ArrayBuffer,
    readonly bits: Uint32Array,
    pages: number,
  ) {
    this.free = count;
    this.st = fillOf(new I32(pages), -1) as Int32Array;
  }
}

/**
 * The chunks one commit added, viewed through one ArrayBuffer (made when a
 * block first needs it): medium blocks are views of it. Commits grow with
 * the arena (see `#commit`), so a large arena has few segments, and V8
 * counts each segment's bytes once, when its buffer is made.
 */
class Segment {
  readonly kind = K_CHUNK;
  buf: ArrayBuffer | null = null;
  constructor(readonly index: number, readonly chunks: number) {}
}

/** A page run with its own ArrayBuffer. */
class OwnBlock {
  readonly kind = K_OWN;
  constructor(readonly id: number, readonly page: number, readonly pages: number, public buf: ArrayBuffer) {}
}

type Owner = Slab | Segment | OwnBlock;

/** Returns its argument from `super()`, so {@link Block} can stamp private fields on a view. */
class Stamp {
  constructor(target: object) {
    return target;
  }
}

/**
 * The owner of each ArrayBuffer the arena makes, in a private field of the
 * buffer itself: invisible to `Object.getOwnPropertySymbols`, `util.inspect`
 * and Proxies, and impossible to write from outside this module.
 */
class OwnedBuffer extends Stamp {
  #owner: Owner;
  private constructor(buf: ArrayBuffer, owner: Owner) {
    super(buf);
    this.#owner = owner;
  }

  static tag(buf: ArrayBuffer, owner: Owner): void {
    new OwnedBuffer(buf, owner);
  }

  static owner(buf: unknown): Owner | undefined {
    return typeof buf === 'object' && buf !== null && #owner in buf ? (buf as OwnedBuffer).#owner : undefined;
  }
}

/** The owner and block of the next view {@link blockView} makes (module-private: nothing else can set them). */
let nextOwner: Owner | undefined;
let nextIndex = 0;

/**
 * The views `alloc()` returns: Uint8Arrays that carry their owner and their
 * block (slab block index, or first page of a run) in private fields. They
 * cannot be forged, copied (`Object.assign`, spread) or seen
 * (`util.inspect`), and a `subarray()` or a new view over the same buffer
 * lacks them, so `free()` knows a block it handed out without reading
 * `buffer`/`byteOffset`. The fields are declared by the class, so V8 keeps
 * them inside the object (stamping fields on a plain Uint8Array afterwards
 * cost a second allocation and 2-3x the time per view). Constructing one
 * from outside (`new view.constructor(...)`) gives a view with no owner:
 * the owner comes only from module-private variables. `subarray`, `slice`,
 * `map` and friends make plain Uint8Arrays (`Symbol.species`).
 */
class ArenaView extends U8 {
  #owner: Owner | undefined = nextOwner;
  #index: number = nextIndex;

  static get [Symbol.species](): Uint8ArrayConstructor {
    return U8;
  }

  static owner(view: object): Owner | undefined {
    return #owner in view ? (view as ArenaView).#owner : undefined;
  }

  /** Call only after {@link ArenaView.owner} returned an owner. */
  static index(view: object): number {
    return (view as ArenaView).#index;
  }
}

/** Makes the view of a block: `length` bytes at `offset` of `buf`, owned by `owner`. */
function blockView(buf: ArrayBuffer, offset: number, length: number, owner: Owner, index: number): Uint8Array {
  nextOwner = owner;
  nextIndex = index;
  const v = new ArenaView(buf, offset, length);
  nextOwner = undefined;
  return v;
}

const Block = ArenaView;

/** A stack of ids in a typed array (no array `length` writes: each is a runtime call in V8). */
class IdStack {
  #ids = new I32(16);
  #cap = 16;
  #n = 0;
  push(id: number): void {
    if (this.#n === this.#cap) {
      this.#cap *= 2;
      const grown = new I32(this.#cap);
      setOf(grown, this.#ids);
      this.#ids = grown;
    }
    this.#ids[this.#n++] = id;
  }

  /** The last id pushed, or `fresh` when none is left. */
  pop(fresh: number): number {
    return this.#n > 0 ? this.#ids[--this.#n]! : fresh;
  }
}

/** The keys of freeBytesByClass, made once. */
const CLASS_KEYS = CLASSES.keys;

/** Rough heap cost of the bookkeeping objects, for `bookkeepingBytes`. */
const SLAB_OBJECT_BYTES = 160;
const OWN_OBJECT_BYTES = 64;
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

function noMemory(message: string): Error {
  const e = new Error(message) as Error & { code: string; errno: number };
  e.code = 'ENOMEM';
  e.errno = -osConstants.errno.ENOMEM;
  return e;
}

function isNoMemory(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOMEM';
}

/**
 * An arena allocator over one `PROT_NONE | MAP_NORESERVE` reservation:
 * address space is reserved cheaply (64 GiB works on a machine with less
 * memory: nothing is charged or resident), committed in chunks with
 * `mprotect`, and handed out as `Uint8Array` views with no system call in the
 * common case. Memory goes back to the kernel on demand: {@link Arena.purge}
 * for free pages, {@link Arena.reset} for everything, {@link Arena.close} to
 * unmap.
 *
 * A commit the kernel refuses (`overcommit_memory=2`, `RLIMIT_DATA`) makes
 * {@link Arena.alloc} throw `ENOMEM` (`syscall: 'mprotect'`) and
 * {@link Arena.tryAlloc} return `null`; earlier blocks are untouched. A full
 * reservation fails the same way with `code: 'ENOMEM'` and no `syscall`.
 *
 * An arena belongs to the thread (main or worker) that made it. One that is
 * garbage-collected is unmapped once no view of it is reachable either.
 *
 * @example
 * using arena = new Arena({ reserve: 64 * 2 ** 30 });  // 64 GiB, nothing resident
 * const a = arena.alloc(64);                         // no system call
 * arena.free(a);
 * arena.reset();                                     // every view now has length 0; RSS back to 0
 */
let batchAdvice = -1;
let batchOk = false;
/** Whether one process_madvise on the own process can give back with `advice` here (probed once per advice). */
function batchedGiveBack(advice: number): boolean {
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
function giveBack(region: RegionHandle, offs: number[], lens: number[], advice: number): void {
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

export class Arena {
  readonly #region: RegionHandle;
  readonly #regionLength: number;
  /** Byte offset of the arena space in the region (THP alignment). */
  readonly #start: number;
  readonly #page: number;
  /** Absolute page number of the arena start, for aligned runs. */
  readonly #phase: number;
  readonly #chunkBytes: number;
  readonly #chunkPages: number;
  readonly #reserve: number;
  readonly #slabBytes: number;
  readonly #slabPages: number;
  /** Class sizes, ascending. */
  readonly #sizes: Uint32Array;
  readonly #classCount: number;
  readonly #smallMax: number;
  readonly #byQuantum: Uint8Array;
  readonly #purgeAdvice: number;
  readonly #purgeCleans: boolean;
  readonly #prefaultChunks: boolean;
  readonly #hugeAdvice: number;
  readonly #vmaName: string | null;
  readonly #faultBase: number;
  readonly #pageShift: number;
  /** `retain` in whole pages. */
  readonly #retainPages: number;
  /** Slab pages that may be retained before the bound is checked exactly: `retainPages` minus the runs' dirty pages. */
  #slabCheckAt = 0;
  readonly #decayMs: number;
  #timer: NodeJS.Timeout | null = null;
  /**
   * Fewest dirty free pages seen since the decay timer last ran: of runs
   * and of slabs, tracked apart (the slab one on the small-block fast path).
   */
  #dirtyMin = 0;
  #slabMin = 0;
  /** Pages of slabs that hold no live block and may be dirty. */
  #slabDirtyFree = 0;
  /** With `purge: 'free'`: free run pages advised already (not known zero). */
  #advised = 0;
  /** Free bytes in slabs, by class. */
  readonly #classFree: Float64Array;
  #slabCount = 0;
  #slabBookBytes = 0;
  #ownCount = 0;
  /** Live medium blocks (views of a segment's buffer). */
  #runViews = 0;
  readonly #slabsByClass: Float64Array;
  #lazy: PropertyDescriptorMap | undefined;
  readonly #runs = new PageRuns();
  #committed = 0;
  #allocated = 0;
  #closed = false;
  /** The segment of each committed chunk, by chunk index. */
  #segOf = table<Segment>();
  #segments = 0;
  /** Largest commit made at once to grow the arena, in chunks. */
  readonly #growCap: number;
  #slabs = table<Slab>();
  /** Ids of released slabs and freed large blocks, for reuse (stacks; no array `length` writes). */
  #freeSlabIds = new IdStack();
  readonly #current = table<Slab | null>();
  /** Head of each class's list of partly free slabs (linked through the slabs). */
  readonly #partial = table<Slab | null>();
  #own = table<OwnBlock>();
  #freeOwnIds = new IdStack();

  /** True for a real Arena (not a Proxy of one, not a look-alike); never throws. */
  static #is(o: unknown): o is Arena {
    return typeof o === 'object' && o !== null && #region in o;
  }

  /**
   * Reserves the address space (no memory is committed yet). Throws
   * TypeError/RangeError on bad options before any system call, and the
   * `mmap` error if the kernel refuses the reservation.
   */
  constructor(options?: ArenaOptions) {
    const o = readOptions('options', options, ARENA_OPTIONS);
    const page = PAGE;
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
    if (nameAsked === undefined || vmaNamesSupported()) {
      const name = nameAsked === undefined ? 'arena' : checkVmaName(nameAsked);
      if (name.length > 70) throw invalidValue('options.name', 'must be at most 70 characters (79 with the "pagewise:" prefix)', name);
      vmaName = `pagewise:${name}`;
    } else {
      checkVmaName(nameAsked);
    }
    const retain = o.retain === undefined ? DEFAULT_RETAIN : checkArenaInteger('options.retain', o.retain, 0, Number.MAX_SAFE_INTEGER);
    const decayAsked = o.decay;
    const decay = decayAsked === undefined ? DEFAULT_DECAY_MS : decayAsked === false ? 0 : checkArenaInteger('options.decay', decayAsked, 0, 2 ** 31 - 1);
    const purge = o.purge === undefined ? 'dontneed' : o.purge;
    if (purge !== 'dontneed' && purge !== 'free') throw invalidValue('options.purge', "must be 'dontneed' or 'free'", purge);

    this.#page = page;
    this.#chunkBytes = chunk;
    this.#chunkPages = chunk / page;
    this.#reserve = reserve;
    this.#slabBytes = CLASSES.slabBytes;
    this.#slabPages = this.#slabBytes / page;
    this.#sizes = CLASSES.sizes;
    this.#classCount = CLASSES.count;
    this.#smallMax = CLASSES.max;
    this.#byQuantum = CLASSES.byQuantum;
    for (let c = 0; c < this.#classCount; c++) {
      this.#current[c] = null;
      this.#partial[c] = null;
    }
    this.#purgeAdvice = purge === 'free' ? C.MADV_FREE! : C.MADV_DONTNEED!;
    this.#purgeCleans = purge === 'dontneed';
    this.#prefaultChunks = prefault;
    this.#growCap = max(1, floor(min(GROW_MAX, maxChunk) / chunk));
    this.#pageShift = log2(page);
    this.#retainPages = floor(retain / page);
    this.#slabCheckAt = this.#retainPages;
    this.#decayMs = decay;
    this.#classFree = new F64(CLASSES.count);
    this.#slabsByClass = new F64(CLASSES.count);
    this.#hugeAdvice = huge === true ? C.MADV_HUGEPAGE! : huge === false ? C.MADV_NOHUGEPAGE! : -1;

    // Huge pages: reserve one more THP so the arena can start on a boundary.
    this.#regionLength = reserve + (huge ? unit : 0);
    const region = nMmap(this.#regionLength, C.PROT_NONE!, C.MAP_PRIVATE! | C.MAP_ANONYMOUS! | C.MAP_NORESERVE!, -1, 0, 0n, 0);
    const address = nRegionAddress(region);
    this.#start = huge ? (unit - NumberOf(address % BigIntOf(unit))) % unit : 0;
    this.#phase = NumberOf((address + BigIntOf(this.#start)) / BigIntOf(page));
    this.#region = region;
    this.#vmaName = vmaName !== null && vmaNamesSupported() ? vmaName : null;
    try {
      this.#adviseRange(0, this.#regionLength);
    } catch (e) {
      nMunmap(region);
      throw e;
    }
    const ru = rusageRaw(C.RUSAGE_THREAD!);
    this.#faultBase = ru[0]! + ru[1]!;
  }

  /** Applies the huge page advice and the name to a (re)mapped part of the region. */
  #adviseRange(offset: number, length: number): void {
    if (length === 0) return;
    if (this.#hugeAdvice >= 0) nMadvise(this.#region, offset, length, this.#hugeAdvice);
    if (this.#vmaName !== null) nSetName(this.#region, offset, length, this.#vmaName);
  }

  /** True after {@link Arena.close}. */
  get closed(): boolean {
    if (!Arena.#is(this)) throw notArena();
    return this.#closed;
  }

  /** Start address of the reservation (for `/proc/self/maps`, `smaps`). */
  get address(): bigint {
    if (!Arena.#is(this)) throw notArena();
    return nRegionAddress(this.#region) + BigIntOf(this.#start);
  }

  /**
   * Allocates `size` bytes (uninitialized, like `Buffer.allocUnsafe`) and
   * returns a view of exactly `size` bytes. `align` (a power of two) is the
   * byte alignment of the block's address; default 16 for small blocks, the
   * page size for larger ones. Commits a chunk when needed: throws ENOMEM
   * (`syscall: 'mprotect'`) if the kernel refuses it. A `size` or `align`
   * that is not a number is refused (`ERR_INVALID_ARG_TYPE`), never coerced.
   */
  alloc(size: number, align?: number): Uint8Array {
    if (!Arena.#is(this)) throw notArena();
    if (align === undefined && typeof size === 'number' && size >>> 0 === size && size <= this.#smallMax) {
      // Fast path: one bitmap scan and one Uint8Array, no system call.
      return this.#small(this.#byQuantum[(size + CLASS_QUANTUM - 1) >>> 4]!, size);
    }
    return this.#allocate(size, align, false);
  }

  /** Like {@link Arena.alloc}, but returns `null` where `alloc` would throw ENOMEM. Bad arguments still throw. */
  tryAlloc(size: number, align?: number): Uint8Array | null {
    if (!Arena.#is(this)) throw notArena();
    try {
      return this.alloc(size, align);
    } catch (e) {
      if (isNoMemory(e)) return null;
      throw e;
    }
  }

  /**
   * Like {@link Arena.alloc}, but the bytes are zero. Pages the arena knows
   * are zero (fresh from commit, or purged with `MADV_DONTNEED` and not
   * handed out since) are not written, so a large zeroed block costs no
   * page faults until it is used.
   */
  allocZeroed(size: number, align?: number): Uint8Array {
    if (!Arena.#is(this)) throw notArena();
    return this.#allocate(size, align, true);
  }

  #allocate(size: unknown, align: unknown, zero: boolean): Uint8Array {
    this.#live();
    const n = checkArenaInteger('size', size, 0, maxArrayBufferLength());
    if (n > this.#reserve) throw outOfRange('size', `<= the arena's reservation (${this.#reserve} bytes)`, n);
    let a = CLASS_QUANTUM;
    if (align !== undefined) {
      a = checkArenaInteger('align', align, 1, this.#reserve);
      if (!isInteger(log2(a))) throw outOfRange('align', `a power of two <= ${this.#reserve}`, a);
    }
    if (n <= this.#smallMax) {
      let cls = this.#byQuantum[(n + CLASS_QUANTUM - 1) >>> 4]!;
      if (a > CLASS_QUANTUM) {
        // Blocks of a class sit at multiples of its size in a page-aligned
        // slab: any class whose size is a multiple of `a` is aligned to it.
        const sizes = this.#sizes;
        while (cls < this.#classCount && (a > this.#page || sizes[cls]! % a !== 0)) cls++;
      }
      if (cls < this.#classCount) {
        const view = this.#small(cls, n);
        if (zero) fillOf(view, 0);
        return view;
      }
    }
    return this.#allocRun(n, a > this.#page ? a / this.#page : 1, zero);
  }

  #small(cls: number, size: number): Uint8Array {
    let slab = this.#current[cls]!;
    if (slab === null || slab.free === 0) slab = this.#refill(cls);
    const bits = slab.bits;
    let w = slab.hint;
    let x = bits[w]!;
    while (x === 0) x = bits[++w]!;
    slab.hint = w;
    const low = x & -x;
    bits[w] = x ^ low;
    slab.free--;
    const sz = slab.size;
    this.#allocated += sz;
    this.#classFree[cls]! -= sz;
    const idx = (w << 5) + 31 - clz32(low);
    const a0 = idx * sz;
    const st = slab.st;
    let p = a0 >>> this.#pageShift;
    const pe = (a0 + sz - 1) >>> this.#pageShift;
    do {
      const c = st[p]!;
      if (c > 0) st[p] = c + 1;
      else {
        // The page is in use again (and written from now on): if it was
        // free and dirty it leaves the retained count (low-water mark for
        // the decay: a field compare, no call).
        st[p] = 1;
        if (c === 0 && --this.#slabDirtyFree < this.#slabMin) this.#slabMin = this.#slabDirtyFree;
      }
    } while (++p <= pe);
    const buf = slab.buf;
    if (abByteLengthOf(buf) !== 0) return blockView(buf, a0, size, slab, idx);
    return this.#view(slab, a0, size, idx);
  }

  /** Makes a slab with free blocks the current one of its class. */
  #refill(cls: number): Slab {
    this.#live();
    for (let s = this.#partial[cls]!; s !== null; s = this.#partial[cls]!) {
      this.#unlist(s);
      if (this.#slabs[s.id] === s && s.free > 0) {
        this.#current[cls] = s;
        return s;
      }
    }
    const size = this.#sizes[cls]!;
    const p = this.#takeRun(this.#slabPages, SLAB, 1);
    let buf: ArrayBuffer;
    try {
      buf = nRegionBuffer(this.#region, this.#start + p * this.#page, this.#slabBytes);
    } catch (e) {
      this.#runs.release(p);
      throw e;
    }
    const count = floor(this.#slabBytes / size);
    const words = (count + 31) >>> 5;
    const bits = fillOf(new U32(words), 0xffffffff) as Uint32Array;
    if (count % 32 !== 0) bits[words - 1] = 2 ** (count % 32) - 1;
    const id = this.#freeSlabIds.pop(this.#slabs.length);
    const s = new Slab(id, cls, size, count, p, buf, bits, this.#slabPages);
    // Pages known zero stay clean; the others are free and may be dirty.
    const clean = this.#runs.clean;
    for (let i = 0; i < this.#slabPages; i++) {
      if (clean[p + i] === 0) {
        s.st[i] = 0;
        this.#slabDirtyFree++;
      }
    }
    this.#runs.claim(p, this.#slabPages);
    this.#noteTaken();
    this.#classFree[cls]! += count * size;
    this.#slabCount++;
    this.#slabsByClass[cls]!++;
    this.#slabBookBytes += SLAB_OBJECT_BYTES + words * 4 + this.#slabPages * 4;
    OwnedBuffer.tag(buf, s);
    this.#slabs[id] = s;
    this.#current[cls] = s;
    return s;
  }

  /** A page run of whole pages for `size` bytes, aligned to `alignPages` pages. */
  #allocRun(size: number, alignPages: number, zero: boolean): Uint8Array {
    const page = this.#page;
    const n = max(1, ceil(size / page));
    const bytes = n * page;
    const p = this.#takeRun(n, RUN, alignPages);
    const off = p * page;
    const first = floor(off / this.#chunkBytes);
    let view: Uint8Array;
    try {
      const seg = this.#segOf[first]!;
      if (bytes >= LARGE_BLOCK_BYTES || off + bytes > (seg.index + seg.chunks) * this.#chunkBytes) {
        const buf = nRegionBuffer(this.#region, this.#start + off, bytes);
        const id = this.#freeOwnIds.pop(this.#own.length);
        const blk = new OwnBlock(id, p, n, buf);
        OwnedBuffer.tag(buf, blk);
        this.#own[id] = blk;
        this.#ownCount++;
        this.#runs.retag(p, OWN);
        view = this.#view(blk, 0, size, p);
      } else {
        const seg = this.#segOf[first]!;
        view = this.#view(seg, off - seg.index * this.#chunkBytes, size, p);
        this.#runViews++;
      }
    } catch (e) {
      this.#runs.release(p);
      throw e;
    }
    if (zero) this.#zeroDirty(view, p, n);
    this.#runs.claim(p, n);
    this.#noteTaken();
    this.#allocated += bytes;
    return view;
  }

  /** Writes zeros over the pages of a new block that are not known to be zero. */
  #zeroDirty(view: Uint8Array, p: number, n: number): void {
    const clean = this.#runs.clean;
    const page = this.#page;
    const length = byteLengthOf(view);
    for (let i = 0; i < n; ) {
      if (clean[p + i]) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < n && !clean[p + j]) j++;
      fillOf(view, 0, i * page, min(j * page, length));
      i = j;
    }
  }

  /**
   * The view of a block of `owner`. Where someone else detached the owner's
   * buffer (`transfer()` moves its memory into a buffer pagewise never saw;
   * the native layer keeps that memory mapped and writable while it lives),
   * the owner gets a new buffer over the same pages: the arena goes on, and
   * the transferred buffer is like a stale view (it may see memory the
   * arena hands out again).
   */
  #view(owner: Owner, offset: number, length: number, index: number): Uint8Array {
    const buf = owner.kind === K_CHUNK ? this.#segBuffer(owner) : owner.buf;
    // The arena's buffers are never empty: length 0 means detached. (A
    // check, not a try/catch: that cost 40-50 ns an allocation.)
    if (abByteLengthOf(buf) !== 0) return blockView(buf, offset, length, owner, index);
    const page = this.#page;
    const at = owner.kind === K_SLAB ? owner.page * page : owner.kind === K_CHUNK ? owner.index * this.#chunkBytes : owner.page * page;
    const bytes = owner.kind === K_SLAB ? this.#slabBytes : owner.kind === K_CHUNK ? owner.chunks * this.#chunkBytes : owner.pages * page;
    const fresh = nRegionBuffer(this.#region, this.#start + at, bytes);
    OwnedBuffer.tag(fresh, owner);
    owner.buf = fresh;
    return blockView(fresh, offset, length, owner, index);
  }

  #segBuffer(seg: Segment): ArrayBuffer {
    if (seg.buf !== null) return seg.buf;
    const buf = nRegionBuffer(this.#region, this.#start + seg.index * this.#chunkBytes, seg.chunks * this.#chunkBytes);
    OwnedBuffer.tag(buf, seg);
    seg.buf = buf;
    return buf;
  }

  /** Takes `n` pages from free runs, committing chunks when none fits. */
  #takeRun(n: number, kind: number, alignPages: number): number {
    let p = this.#runs.take(n, kind, alignPages, this.#phase);
    if (p >= 0) return p;
    const need = alignPages > 1 ? n + alignPages - 1 : n;
    const missing = (need - this.#runs.freeTail()) * this.#page;
    this.#commit(ceil(missing / this.#chunkBytes), true);
    p = this.#runs.take(n, kind, alignPages, this.#phase);
    if (p < 0) throw new Error(`pagewise: arena bookkeeping found no run of ${n} pages after committing (a bug)`);
    return p;
  }

  /**
   * Commits `count` more chunks at the committed end; with `grow`, up to
   * half as much again as is committed already (at most `#growCap` chunks),
   * so the number of commits and segments is logarithmic in the arena's
   * size. Commit costs no memory until pages are touched (and no charge on a
   * NORESERVE reservation under overcommit 0/1); when the kernel refuses the
   * larger commit, exactly `count` chunks are tried. Nothing changes if the
   * kernel refuses.
   */
  #commit(count: number, grow: boolean): void {
    const cb = this.#chunkBytes;
    const have = this.#committed / cb;
    const room = this.#reserve / cb - have;
    if (count > room) {
      throw noMemory(
        `The arena's reservation is full: ${this.#committed} of ${this.#reserve} bytes committed, ${count * cb} more needed. ` +
          'Reserve more address space: new Arena({ reserve })',
      );
    }
    let n = count;
    if (grow && !this.#prefaultChunks) n = min(room, max(count, min(have >>> 1, this.#growCap)));
    const at = this.#committed;
    try {
      nMprotect(this.#region, this.#start + at, n * cb, C.PROT_READ! | C.PROT_WRITE!);
    } catch (e) {
      if (n === count || !isNoMemory(e)) throw e;
      n = count;
      nMprotect(this.#region, this.#start + at, n * cb, C.PROT_READ! | C.PROT_WRITE!);
    }
    const bytes = n * cb;
    this.#committed += bytes;
    this.#runs.grow(bytes / this.#page);
    this.#addSegments(have, n);
    if (this.#prefaultChunks) this.#populate(at, bytes);
  }

  /** Segments for `n` chunks from chunk `first`, each at most `#growCap` chunks. */
  #addSegments(first: number, n: number): void {
    for (let c = first; c < first + n; ) {
      const k = min(first + n - c, this.#growCap);
      const seg = new Segment(c, k);
      for (let i = c; i < c + k; i++) this.#segOf[i] = seg;
      this.#segments++;
      c += k;
    }
  }

  /**
   * Releases a block. Refuses (TypeError, `ERR_INVALID_ARG_VALUE`) a view
   * that is not a live block of this arena: freed already, freed by
   * `reset()`, part of a block, or from elsewhere. A large block's view is
   * detached (reads as length 0) and its pages purged.
   */
  free(view: Uint8Array): void {
    if (!Arena.#is(this)) throw notArena();
    const owner = typeof view === 'object' && view !== null ? Block.owner(view) : undefined;
    if (owner !== undefined && owner.kind === K_SLAB) {
      if (this.#slabs[owner.id] !== owner) throw this.#notLive(view);
      const idx = Block.index(view);
      const w = idx >>> 5;
      const bit = 1 << (idx & 31);
      const x = owner.bits[w]!;
      if (x & bit) throw invalidValue('view', 'was already freed (double free)', view);
      owner.bits[w] = x | bit;
      if (w < owner.hint) owner.hint = w;
      const sz = owner.size;
      this.#allocated -= sz;
      this.#classFree[owner.cls]! += sz;
      const a0 = idx * sz;
      const st = owner.st;
      const pe = (a0 + sz - 1) >>> this.#pageShift;
      let p = a0 >>> this.#pageShift;
      let first = -1;
      let last = -1;
      do {
        if (--st[p]! === 0) {
          this.#slabDirtyFree++;
          if (first < 0) first = p;
          last = p;
        }
      } while (++p <= pe);
      const free = ++owner.free;
      if (first >= 0) {
        // Past the bound's slab share (kept current by the run paths): give
        // these pages back (an exact check first); else make sure the decay runs.
        if (this.#slabDirtyFree > this.#slabCheckAt) this.#freedSlabPages(owner, first, last);
        else if (this.#timer === null && this.#decayMs > 0) this.#armDecay();
      }
      if (this.#current[owner.cls] !== owner) {
        if (free === owner.count) this.#releaseSlab(owner);
        else if (!owner.listed) this.#list(owner);
      }
      return;
    }
    this.#freeRun(view, owner);
  }

  #freeRun(view: Uint8Array, owner: Owner | undefined): void {
    const page = this.#page;
    if (owner === undefined) throw this.#notAllocated(view);
    if (owner.kind === K_CHUNK) {
      if (this.#segOf[owner.index] !== owner) throw this.#notLive(view);
      const p = Block.index(view);
      if (!this.#runs.isHead(p, RUN)) throw invalidValue('view', 'was already freed (double free)', view);
      const n = this.#runs.release(p);
      this.#runViews--;
      this.#allocated -= n * page;
      this.#freedRun(p, n);
      return;
    }
    if (owner.kind !== K_OWN || this.#own[owner.id] !== owner) throw this.#notLive(view);
    this.#own[owner.id] = undefined as unknown as OwnBlock;
    this.#freeOwnIds.push(owner.id);
    this.#ownCount--;
    nDetach(owner.buf);
    this.#runs.release(owner.page);
    this.#allocated -= owner.pages * page;
    this.#freedRun(owner.page, owner.pages);
  }

  /**
   * The usable size of a live block (`view` as `alloc()` returned it): its
   * size class for small blocks, whole pages for the others. The block may
   * be used up to this size through {@link Arena.realloc} without moving.
   */
  sizeOf(view: Uint8Array): number {
    if (!Arena.#is(this)) throw notArena();
    this.#live();
    const owner = this.#liveOwner(view);
    if (owner.kind === K_SLAB) return owner.size;
    return this.#runs.len[Block.index(view)]! * this.#page;
  }

  /**
   * Resizes a live block to `size` bytes, keeping its contents (up to the
   * smaller size). Stays in place when `size` fits the block's usable size
   * ({@link Arena.sizeOf}), or when the pages right after a page run are
   * free (it grows into them); else allocates a new block, copies and frees
   * the old one. Returns the view to use from now on: the old view must not
   * be used again (a large block's old view is detached; others, as after
   * `free()`, may still see memory that is handed out again).
   */
  realloc(view: Uint8Array, size: number): Uint8Array {
    if (!Arena.#is(this)) throw notArena();
    this.#live();
    const owner = this.#liveOwner(view);
    const n = checkArenaInteger('size', size, 0, maxArrayBufferLength());
    if (n > this.#reserve) throw outOfRange('size', `<= the arena's reservation (${this.#reserve} bytes)`, n);
    const idx = Block.index(view);
    if (owner.kind === K_SLAB) {
      if (n <= owner.size) return this.#view(owner, idx * owner.size, n, idx);
      return this.#move(view, n);
    }
    const page = this.#page;
    const pages = this.#runs.len[idx]!;
    const need = max(1, ceil(n / page));
    if (need <= pages) {
      if (owner.kind === K_OWN) return this.#view(owner, 0, n, idx);
      return this.#view(owner, idx * page - owner.index * this.#chunkBytes, n, idx);
    }
    if (!this.#runs.extend(idx, need - pages)) return this.#move(view, n);
    this.#runs.claim(idx + pages, need - pages);
    this.#noteTaken();
    this.#allocated += (need - pages) * page;
    const off = idx * page;
    const bytes = need * page;
    if (owner.kind === K_CHUNK && bytes < LARGE_BLOCK_BYTES && off + bytes <= (owner.index + owner.chunks) * this.#chunkBytes) {
      return this.#view(owner, off - owner.index * this.#chunkBytes, n, idx);
    }
    // The grown run needs a buffer of its own (large, or past its segment).
    const buf = nRegionBuffer(this.#region, this.#start + off, bytes);
    let id: number;
    if (owner.kind === K_OWN) {
      id = owner.id;
      nDetach(owner.buf);
    } else {
      id = this.#freeOwnIds.pop(this.#own.length);
      this.#ownCount++;
      this.#runViews--;
      this.#runs.retag(idx, OWN);
    }
    const blk = new OwnBlock(id, idx, need, buf);
    OwnedBuffer.tag(buf, blk);
    this.#own[id] = blk;
    return this.#view(blk, 0, n, idx);
  }

  /** realloc by a new block: allocate, copy, free the old one. */
  #move(view: Uint8Array, n: number): Uint8Array {
    const next = this.#allocate(n, undefined, false);
    // A view whose buffer was transferred away reads as length 0: nothing to keep.
    const keep = min(n, byteLengthOf(view));
    if (keep > 0) setOf(next, new U8(bufferOf(view) as ArrayBuffer, byteOffsetOf(view), keep));
    this.free(view);
    return next;
  }

  /** The owner of a live block's view, as `free()` checks it (without freeing). */
  #liveOwner(view: Uint8Array): Owner {
    const owner = typeof view === 'object' && view !== null ? Block.owner(view) : undefined;
    if (owner === undefined) throw this.#notAllocated(view);
    if (!this.#owns(owner)) throw this.#notLive(view);
    const idx = Block.index(view);
    if (owner.kind === K_SLAB) {
      if (owner.bits[idx >>> 5]! & (1 << (idx & 31))) throw invalidValue('view', 'was already freed', view);
    } else if (!this.#runs.isHead(idx, owner.kind === K_OWN ? OWN : RUN) || (owner.kind === K_OWN && owner.page !== idx)) {
      throw invalidValue('view', 'was already freed', view);
    }
    return owner;
  }

  /** Free dirty pages (retained): runs and slab pages with no live block. */
  #dirtyPages(): number {
    return this.#runsDirty() + this.#slabDirtyFree;
  }

  /** Free dirty pages of runs (not advised already). */
  #runsDirty(): number {
    const runs = this.#runs;
    let d = runs.freePages - runs.cleanFree;
    if (this.#advised > 0) {
      if (this.#advised > d) this.#advised = d;
      d -= this.#advised;
    }
    return d;
  }

  /** Called after dirty free run pages were taken: the decay's low-water mark. */
  #noteTaken(): void {
    const d = this.#runsDirty();
    if (d < this.#dirtyMin) this.#dirtyMin = d;
    this.#slabCheckAt = this.#retainPages - d;
  }

  /** Recomputes the slab share of the bound after the runs' dirty pages changed. */
  #syncBound(): void {
    this.#slabCheckAt = this.#retainPages - this.#runsDirty();
  }

  /** Whether the retained pages now pass the `retain` bound; else arms the decay. */
  #overRetain(): boolean {
    if (this.#slabDirtyFree + this.#runsDirty() > this.#retainPages) return true;
    if (this.#timer === null && this.#decayMs > 0) this.#armDecay();
    return false;
  }

  /** A run of `n` pages at `p` was just freed (dirty): kept, or given back past the bound. */
  #freedRun(p: number, n: number): void {
    if (this.#overRetain()) {
      nMadvise(this.#region, this.#start + p * this.#page, n * this.#page, this.#purgeAdvice);
      if (this.#purgeCleans) this.#runs.markClean(p, n);
      else this.#advised += n;
    }
    this.#syncBound();
  }

  /** Pages `[first, last]` of slab `s` just lost their last live block: kept, or given back past the bound. */
  #freedSlabPages(s: Slab, first: number, last: number): void {
    if (!this.#overRetain()) return;
    const page = this.#page;
    nMadvise(this.#region, this.#start + (s.page + first) * page, (last - first + 1) * page, this.#purgeAdvice);
    for (let i = first; i <= last; i++) s.st[i] = -1;
    this.#slabDirtyFree -= last - first + 1;
  }

  #armDecay(): void {
    const t = setIntervalOf(onDecayTimer, this.#decayMs, new WeakRefOf(this));
    t.unref();
    this.#timer = t;
    this.#dirtyMin = this.#runsDirty();
    this.#slabMin = this.#slabDirtyFree;
  }

  static {
    decayTick = (a: Arena): boolean => a.#decay();
  }

  /** One decay period: gives back everything free if some free dirty pages went unused all period. */
  #decay(): boolean {
    if (this.#closed) {
      this.#timer = null;
      return false;
    }
    if (this.#dirtyMin + this.#slabMin > 0) this.#purgeAll();
    const d = this.#dirtyPages();
    this.#dirtyMin = this.#runsDirty();
    this.#slabMin = this.#slabDirtyFree;
    if (d === 0) {
      this.#timer = null;
      return false;
    }
    return true;
  }

  /** The error for a view `alloc()` did not return: part of a block, another arena's, or not a view. */
  #notAllocated(view: unknown): TypeError {
    if (!isUint8Array(view)) return invalidType('view', 'an instance of Uint8Array', view);
    if (this.#closed) return invalidState('The arena is closed');
    const owner = OwnedBuffer.owner(bufferOf(view));
    if (owner !== undefined && this.#owns(owner)) {
      return invalidValue('view', 'is not a block returned by alloc() (a part of one, or another view over its memory)', view);
    }
    return this.#notLive(view);
  }

  #owns(owner: Owner): boolean {
    if (owner.kind === K_SLAB) return this.#slabs[owner.id] === owner;
    if (owner.kind === K_CHUNK) return this.#segOf[owner.index] === owner;
    return this.#own[owner.id] === owner;
  }

  /** Puts a slab at the head of its class's partial list. */
  #list(s: Slab): void {
    const head = this.#partial[s.cls]!;
    s.listed = true;
    s.prevP = null;
    s.nextP = head;
    if (head !== null) head.prevP = s;
    this.#partial[s.cls] = s;
  }

  /** Takes a slab out of its class's partial list. */
  #unlist(s: Slab): void {
    if (s.prevP !== null) s.prevP.nextP = s.nextP;
    else this.#partial[s.cls] = s.nextP;
    if (s.nextP !== null) s.nextP.prevP = s.prevP;
    s.prevP = s.nextP = null;
    s.listed = false;
  }

  #releaseSlab(s: Slab): void {
    this.#slabs[s.id] = undefined as unknown as Slab;
    this.#classFree[s.cls]! -= s.count * s.size;
    this.#slabCount--;
    this.#slabsByClass[s.cls]!--;
    this.#slabBookBytes -= SLAB_OBJECT_BYTES + ((s.count + 31) >>> 5) * 4 + this.#slabPages * 4;
    this.#freeSlabIds.push(s.id);
    if (s.listed) this.#unlist(s);
    // Stale views of this slab's blocks read as length 0 from now on.
    nDetach(s.buf);
    this.#runs.release(s.page);
    // Its pages are free run pages now: dirty ones leave the slab count,
    // purged ones are known zero (with 'dontneed').
    for (let i = 0; i < this.#slabPages; i++) {
      if (s.st[i] === 0) this.#slabDirtyFree--;
      else if (this.#purgeCleans) this.#runs.markClean(s.page + i, 1);
    }
    this.#syncBound();
  }

  #notLive(view: Uint8Array): TypeError {
    if (this.#closed) return invalidState('The arena is closed');
    return invalidValue('view', 'is not a live block of this arena (already freed, freed by reset(), or allocated elsewhere)', view);
  }

  /**
   * The address of the first byte of `view`, a view of a live buffer of this
   * arena (a block, or part of one). For alignment checks and for handing the
   * memory to native code; throws like {@link Arena.free} for other views.
   * The view's geometry is read through the original typed-array getters,
   * not through the object.
   */
  addressOf(view: Uint8Array): bigint {
    if (!Arena.#is(this)) throw notArena();
    if (!isUint8Array(view)) throw invalidType('view', 'an instance of Uint8Array', view);
    const owner = OwnedBuffer.owner(bufferOf(view));
    if (owner === undefined || !this.#owns(owner)) throw this.#notLive(view);
    const base = owner.kind === K_CHUNK ? owner.index * this.#chunkBytes : owner.page * this.#page;
    return nRegionAddress(this.#region) + BigIntOf(this.#start + base + byteOffsetOf(view));
  }

  /**
   * Frees every block at once. Every view of the arena is detached (reads as
   * length 0), and the committed range is purged with one `madvise` (the
   * arena's resident pages drop to 0 with `'dontneed'`). With
   * `{ decommit: true }` the commit goes back too.
   */
  reset(options?: ArenaResetOptions): void {
    if (!Arena.#is(this)) throw notArena();
    const o = readOptions('options', options, ['decommit', 'keep']);
    const decommit = o.decommit === undefined ? false : checkArenaBoolean('options.decommit', o.decommit);
    const keep = o.keep === undefined ? false : checkArenaBoolean('options.keep', o.keep);
    if (keep && decommit) throw invalidValue('options', 'cannot both keep and decommit the pages', options);
    this.#live();
    nRegionDetach(this.#region, 0, this.#regionLength);
    this.#forget();
    if (this.#committed > 0) {
      if (decommit) {
        nRegionRemap(this.#region, this.#start, this.#committed, C.PROT_NONE!, C.MAP_NORESERVE!);
        this.#adviseRange(this.#start, this.#committed);
        this.#committed = 0;
        this.#segOf = table();
        this.#segments = 0;
      } else if (!keep) {
        nMadvise(this.#region, this.#start, this.#committed, this.#purgeAdvice);
      }
    }
    const pages = this.#committed / this.#page;
    this.#runs.reset(pages, keep ? false : this.#purgeCleans);
    this.#advised = keep || this.#purgeCleans ? 0 : pages;
    if (keep && pages > 0 && this.#timer === null && this.#decayMs > 0) this.#armDecay();
    this.#syncBound();
  }

  /** Drops every block's bookkeeping (their buffers are detached by the caller). */
  #forget(): void {
    // Segments keep their extent; new objects, so views of the old buffers
    // (detached by the caller) are refused.
    const old = this.#segOf;
    this.#segOf = table();
    this.#segments = 0;
    for (let c = 0; c < old.length; c += old[c]!.chunks) this.#addSegments(c, old[c]!.chunks);
    this.#slabs = table();
    this.#freeSlabIds = new IdStack();
    this.#own = table();
    this.#freeOwnIds = new IdStack();
    for (let c = 0; c < this.#classCount; c++) {
      this.#current[c] = null;
      this.#partial[c] = null;
      this.#classFree[c] = 0;
    }
    this.#allocated = 0;
    this.#slabDirtyFree = 0;
    this.#slabCount = 0;
    this.#slabBookBytes = 0;
    this.#ownCount = 0;
    this.#runViews = 0;
    fillOf(this.#slabsByClass, 0);
  }

  /**
   * Gives free memory back without touching live blocks: returns slabs with
   * no block in use, then purges every free page that may be dirty (one
   * `madvise` per dirty stretch), inside slabs too: a slab page on which no
   * live block lies is purged while the slab lives. Returns the bytes
   * advised (passed to `madvise`), which is at least what stopped being
   * resident: afterwards the arena's resident pages are exactly the pages
   * holding a live block (with `'dontneed'`). With `purge: 'free'` the pages
   * go lazily.
   */
  purge(): number {
    if (!Arena.#is(this)) throw notArena();
    this.#live();
    return this.#purgeAll();
  }

  #purgeAll(): number {
    for (let cls = 0; cls < this.#classCount; cls++) {
      const s = this.#current[cls];
      if (s && s.free === s.count) {
        this.#current[cls] = null;
        this.#releaseSlab(s);
      }
    }
    const runs = this.#runs;
    const clean = runs.clean;
    const page = this.#page;
    let bytes = 0;
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
        offs[offs.length] = this.#start + i * page;
        lens[lens.length] = (j - i) * page;
        if (this.#purgeCleans) runs.markClean(i, j - i);
        bytes += (j - i) * page;
        i = j;
      }
    });
    if (!this.#purgeCleans) this.#advised = runs.dirtyFree();
    if (this.#slabDirtyFree > 0) {
      const n = this.#slabPages;
      for (let k = 0; k < this.#slabs.length; k++) {
        const s = this.#slabs[k];
        if (s === undefined) continue;
        const st = s.st;
        for (let i = 0; i < n; ) {
          if (st[i] !== 0) {
            i++;
            continue;
          }
          let j = i + 1;
          while (j < n && st[j] === 0) j++;
          offs[offs.length] = this.#start + (s.page + i) * page;
          lens[lens.length] = (j - i) * page;
          for (let q = i; q < j; q++) st[q] = -1;
          this.#slabDirtyFree -= j - i;
          bytes += (j - i) * page;
          i = j;
        }
      }
    }
    giveBack(this.#region, offs, lens, this.#purgeAdvice);
    this.#syncBound();
    return bytes;
  }

  /**
   * Commits and prefaults the first `bytes` of the arena (rounded up to
   * pages; allocation fills the arena from its start, so these are the pages
   * the next blocks use). Uses `MADV_POPULATE_WRITE` (Linux 5.14+: an
   * ENOMEM comes back as an error, not a kill), else writes each page once
   * from JS without changing its contents.
   */
  prefault(bytes: number): void {
    if (!Arena.#is(this)) throw notArena();
    this.#live();
    const len = ceil(checkArenaInteger('bytes', bytes, 0, this.#reserve) / this.#page) * this.#page;
    if (len === 0) return;
    if (len > this.#committed) this.#commit(ceil((len - this.#committed) / this.#chunkBytes), false);
    if (!this.#prefaultChunks) this.#populate(0, len);
  }

  /** Prefaults `[offset, offset + length)` of the committed space. */
  #populate(offset: number, length: number): void {
    if (adviceSupported('populate_write')) {
      nMadvise(this.#region, this.#start + offset, length, C.MADV_POPULATE_WRITE!);
      return;
    }
    const page = this.#page;
    const chunkBytes = this.#chunkBytes;
    for (let ci = floor(offset / chunkBytes); ci * chunkBytes < offset + length; ) {
      const seg = this.#segOf[ci]!;
      const u8 = this.#view(seg, 0, seg.chunks * chunkBytes, seg.index);
      const base = seg.index * chunkBytes;
      ci = seg.index + seg.chunks;
      const from = max(offset, base) - base;
      const to = min(offset + length, ci * chunkBytes) - base;
      // A write fault per page; the byte keeps its value (live blocks may be here).
      for (let i = from; i < to; i += page) u8[i] = u8[i]!;
    }
  }

  /**
   * Counters of the arena, kept as blocks come and go: O(1) in the arena's
   * size. `resident` and `mappings` are measured only with
   * `{ resident: true }` (one `mincore` over the committed range and a read
   * of `/proc/self/maps`).
   */
  stats(options?: ArenaStatsOptions): ArenaStats {
    if (!Arena.#is(this)) throw notArena();
    const o = readOptions('options', options, ['resident']);
    const measure = o.resident === undefined ? false : checkArenaBoolean('options.resident', o.resident);
    this.#live();
    const freeBytesByClass: Record<string, number> = {};
    for (let c = 0; c < this.#classCount; c++) {
      const f = this.#classFree[c]!;
      if (f > 0) freeBytesByClass[CLASS_KEYS[c]!] = f;
    }
    freeBytesByClass.pages = this.#runs.freePages * this.#page;
    const bookkeeping =
      this.#runs.bookkeepingBytes() + this.#slabBookBytes + this.#ownCount * OWN_OBJECT_BYTES + this.#segments * CHUNK_OBJECT_BYTES +
      (this.#slabs.length + this.#own.length + this.#segOf.length) * 8;
    const ru = rusageRaw(C.RUSAGE_THREAD!);
    const out = {
      reserved: this.#reserve,
      committed: this.#committed,
      allocated: this.#allocated,
      freeBytesByClass,
      retained: this.#dirtyPages() * this.#page,
      giveBack: batchedGiveBack(this.#purgeAdvice) ? 'process_madvise' : 'madvise',
      threadFaults: ru[0]! + ru[1]! - this.#faultBase,
      bookkeepingBytes: bookkeeping,
      viewBytes: (this.#liveSmall() + this.#runViews) * VIEW_BYTES + this.#ownCount * (VIEW_BYTES + BUFFER_BYTES),
    } as ArenaStats;
    if (measure) {
      out.resident = this.#resident();
      out.mappings = this.#mappings();
    } else {
      this.#lazy ??= lazyMeasures(() => this.#resident(), () => this.#mappings());
      definePropertiesOf(out, this.#lazy);
    }
    return out;
  }

  /** Live small blocks, from the per-class counters. */
  #liveSmall(): number {
    let n = 0;
    const slab = this.#slabBytes;
    for (let c = 0; c < this.#classCount; c++) {
      const size = this.#sizes[c]!;
      n += (this.#slabsByClass[c]! * floor(slab / size) * size - this.#classFree[c]!) / size;
    }
    return n;
  }

  #resident(): number {
    this.#live();
    return this.#committed > 0 ? residencyOfRange(this.#region, this.#start, this.#committed, { source: 'mincore' }).bytes : 0;
  }

  #mappings(): number {
    this.#live();
    const lo = nRegionAddress(this.#region);
    const hi = lo + BigIntOf(this.#regionLength);
    let mappings = 0;
    for (const e of readMaps()) if (e.start < hi && e.end > lo) mappings++;
    return mappings;
  }

  /** Detaches every view and unmaps the reservation. Calling it again does nothing. */
  close(): void {
    if (!Arena.#is(this)) throw notArena();
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) {
      clearIntervalOf(this.#timer);
      this.#timer = null;
    }
    this.#forget();
    this.#runs.reset(0, true);
    this.#committed = 0;
    nMunmap(this.#region);
  }

  /** `using arena = new Arena()` closes it at the end of the block. */
  [Symbol.dispose](): void {
    if (!Arena.#is(this)) throw notArena();
    this.close();
  }

  #live(): void {
    if (this.#closed) throw invalidState('The arena is closed');
  }

  /** @internal */
  [inspect.custom](): string {
    if (!Arena.#is(this)) return 'Arena <not an arena>';
    if (this.#closed) return 'Arena { closed }';
    return `Arena { reserved: ${this.#reserve}, committed: ${this.#committed}, allocated: ${this.#allocated}, chunk: ${this.#chunkBytes} }`;
  }
}
