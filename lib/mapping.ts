/**
 * `mmap()` and the `Mapping` class: one mapping of the process's address
 * space, its memory reachable from JS only through external ArrayBuffers that
 * pagewise detaches before the memory goes away.
 */
import * as fs from 'node:fs';
import { inspect } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { native, type RegionHandle } from './native';
import { mnative } from './measure/native';
import { requireFeature } from './features';
import { pageSize, maxArrayBufferLength, roundUp } from './system';
import { adviceByName, protByName, adviceNumber, isWritable, protBits, type Advice, type Prot } from './flags';
import {
  checkAligned, checkBigAddress, checkBoolean, checkInteger, checkObject, checkOptions, checkRange,
  checkString, invalidState, invalidType, invalidValue, outOfRange,
} from './validate';

const C = native.constants as Record<string, number>;

/** Options of {@link mmap}. */
export interface MmapOptions {
  /** Protection, default `'rw'`. JS sees buffers only over writable ranges (see {@link Mapping.buffer}). */
  prot?: Prot;
  /** `MAP_SHARED` instead of the default `MAP_PRIVATE` (copy-on-write). */
  shared?: boolean;
  /** `MAP_NORESERVE`: not charged to the commit limit (honoured unless `vm.overcommit_memory=2`). */
  noReserve?: boolean;
  /** `MAP_POPULATE`: prefault every page now. */
  populate?: boolean;
  /** `MAP_HUGETLB`: back with hugetlbfs pages (fails with ENOMEM unless the kernel has some reserved). */
  hugePages?: boolean;
  /** With `hugePages`, the huge page size in bytes (`MAP_HUGE_2MB`, `MAP_HUGE_1GB`, ...); default the kernel's. */
  hugePageSize?: number;
  /** Map a file instead of anonymous memory: an open descriptor and a page-aligned offset. */
  file?: { fd: number; offset?: number };
  /** Place the mapping exactly here with `MAP_FIXED_NOREPLACE`; fails with EEXIST if anything is there. */
  address?: bigint;
  /**
   * Name the region with `PR_SET_VMA_ANON_NAME` (anonymous private mappings,
   * Linux 5.17+ with CONFIG_ANON_VMA_NAME); shows as `[anon:NAME]`. Best
   * effort: where the kernel cannot, the mapping is made unnamed and
   * {@link Mapping.label} is `null`. Use {@link Mapping.name} to get the error.
   */
  name?: string;
  /**
   * `MAP_DROPPABLE` (Linux 6.11+, anonymous memory only): the kernel may drop
   * these pages under memory pressure instead of swapping them, and a page
   * dropped reads back as zeros. For caches a reader can rebuild: check what
   * you read (a checksum, a non-zero header) before trusting it. Not charged
   * to mlock or the commit limit the usual way. Throws
   * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` where the kernel lacks it.
   */
  droppable?: boolean;
}

const MMAP_OPTIONS = ['prot', 'shared', 'noReserve', 'populate', 'hugePages', 'hugePageSize', 'file', 'address', 'name', 'droppable'] as const;

interface Segment {
  start: number;
  end: number;
  prot: Prot;
}

/** Options of {@link Mapping.lock}. */
export interface LockOptions {
  /** `mlock2(MLOCK_ONFAULT)`: lock pages as they are faulted in instead of populating now. */
  onFault?: boolean;
}

/** Options of {@link Mapping.sync}. */
export interface SyncOptions {
  /** `MS_ASYNC` instead of `MS_SYNC`. */
  async?: boolean;
  /** Also `MS_INVALIDATE`. */
  invalidate?: boolean;
}

const NAME_RE = /^[\x20-\x7e]*$/;

/** @internal Shared name check (also used by the arena). */
export function checkVmaName(value: unknown): string {
  const name = checkString('name', value);
  // Kernel rules (mm/madvise.c): at most 79 bytes, printable, none of \`$[]
  if (name.length > 79 || !NAME_RE.test(name) || /[\\`$[\]]/.test(name)) {
    throw invalidValue('name', 'must be at most 79 printable ASCII characters without \\ ` $ [ ]', value);
  }
  return name;
}

/** The file behind a file mapping, as it was at mmap time (for resize()). */
interface FileInfo {
  fd: number;
  offset: number;
  dev: number;
  ino: number;
}
let setFileInfo: (m: Mapping, info: FileInfo) => void;

/** What {@link Mapping.share} returns: post it to a worker and {@link attach} it there. */
export interface ShareToken {
  readonly pagewiseShare: 1;
  readonly id: bigint;
  readonly length: number;
  readonly pageSize: number;
  readonly kind: { readonly file: boolean; readonly shared: boolean; readonly noReserve: boolean; readonly hugePages: boolean };
}

/** Options of {@link Mapping.resize}. */
export interface ResizeOptions {
  /** Move the mapping when it cannot grow in place (its address changes; every buffer over it is detached). */
  mayMove?: boolean;
  /** For a file mapping: a descriptor of the file, to check it is long enough (default: the one it was mapped with, if still open). */
  fd?: number;
}

// A worker's last JS ('exit') records which of its buffers escaped to another
// thread (transfer() + postMessage), so that tearing the worker down keeps
// exactly that memory mapped (native/region.cc, BufferFinalize). A worker
// stopped by terminate() never gets here: then every mapping with a buffer
// still alive is kept, zero-filled (docs/reliability.md).
if (!isMainThread) process.on('exit', () => native.regionsSampleEscapes());

/** Captured at load: later patches of `Number` do not reach the range checks. */
const isSafeInteger = Number.isSafeInteger;
const pagemapOut = new Float64Array(7);

/** Methods called on anything but a Mapping (`call({})`, a Proxy) throw a TypeError with a code. */
function brand(value: unknown): void {
  if (!Mapping.isMapping(value)) throw invalidType('this', 'a Mapping made by mmap()', value);
}

/** Only this module (through {@link newMapping}) can construct a Mapping. */
const CONSTRUCT: unique symbol = Symbol('pagewise.Mapping');

/** @internal A Mapping over a region this package just created (mmap, unsafe.mmapFixed). */
export function newMapping(region: RegionHandle, length: number, prot: Prot, page: number, kind: Mapping['kind']): Mapping {
  return new Mapping(CONSTRUCT, region, length, prot, page, kind);
}

/**
 * One mapping made by {@link mmap}. Its memory is exposed as external
 * ArrayBuffers: {@link Mapping.buffer} for the whole range (when it fits in
 * one ArrayBuffer) and {@link Mapping.view} for windows. {@link Mapping.unmap}
 * and `protect('none' | 'r' ...)` detach every ArrayBuffer over the range
 * first, so a stale view reads as length 0 instead of touching unmapped or
 * unwritable memory. A Mapping that is garbage-collected is unmapped by its
 * finalizer once no ArrayBuffer over it is reachable either.
 *
 * Partial unmap is refused (a hole could be refilled by someone else's
 * mapping, which a later unmap of the whole range would destroy): use
 * `advise('dontneed', ...)` to give pages back or `protect('none', ...)` to
 * fence a range.
 */
export class Mapping {
  // Every field is private: nothing a caller can write (length, protection
  // segments, the region) changes what is passed to the kernel.
  #region: RegionHandle;
  #length: number;
  #page: number;
  #kind: { readonly file: boolean; readonly shared: boolean; readonly noReserve: boolean; readonly hugePages: boolean };
  #label: string | null = null;
  #address: bigint | undefined = undefined;
  #mapped = true;
  #segments: Segment[];
  #buffer: ArrayBuffer | null = null;
  #file: FileInfo | null = null;
  #sab: SharedArrayBuffer | null = null;
  #sealed = false;
  #guards: Segment[] = [];

  static {
    setFileInfo = (m, info) => {
      m.#file = info;
    };
  }

  /** @internal Use {@link mmap}. */
  constructor(token: symbol, region: RegionHandle, length: number, prot: Prot, page: number, kind: Mapping['kind']) {
    if (token !== CONSTRUCT) throw invalidState('A Mapping is made by mmap(), not by its constructor');
    this.#region = region;
    this.#length = length;
    this.#page = page;
    this.#kind = Object.freeze({ file: kind.file, shared: kind.shared, noReserve: kind.noReserve, hugePages: kind.hugePages });
    this.#segments = [{ start: 0, end: length, prot }];
  }

  /** Start address (read from the native region on first use, then kept). */
  get address(): bigint {
    brand(this);
    return (this.#address ??= native.regionAddress(this.#region));
  }
  /** Length in bytes, rounded up to whole pages (huge pages with `hugePages`). */
  get length(): number {
    brand(this);
    return this.#length;
  }
  /** Page size used for alignment of this mapping's offsets. */
  get pageSize(): number {
    brand(this);
    return this.#page;
  }
  /** Whether it maps a file, and whether writes are shared. */
  get kind(): { readonly file: boolean; readonly shared: boolean; readonly noReserve: boolean; readonly hugePages: boolean } {
    brand(this);
    return this.#kind;
  }
  /** The name set with `PR_SET_VMA_ANON_NAME` (see {@link Mapping.name}), or `null`. */
  get label(): string | null {
    brand(this);
    return this.#label;
  }

  /** @internal Whether `value` is a Mapping made by this module (not a Proxy or a look-alike). */
  static isMapping(value: unknown): value is Mapping {
    return typeof value === 'object' && value !== null && #region in value;
  }

  /** @internal The native handle, for modules of this package. */
  get region(): RegionHandle {
    brand(this);
    this.#live();
    return this.#region;
  }

  /** True until {@link Mapping.unmap}. */
  get mapped(): boolean {
    brand(this);
    return this.#mapped;
  }

  /** Protection of the page at `offset` (default 0). */
  protection(offset = 0): Prot {
    brand(this);
    const off = checkInteger('offset', offset, 0, Math.max(0, this.#length - 1));
    const segs = this.#segments;
    for (let i = 0; i < segs.length; i++) if (off >= segs[i]!.start && off < segs[i]!.end) return segs[i]!.prot;
    return this.#segments[0]!.prot;
  }

  #live(): void {
    if (!this.#mapped) throw invalidState('The mapping is unmapped');
  }

  #checkWritable(off: number, len: number): void {
    const g = this.#guards;
    for (let i = 0; i < g.length; i++) {
      if (g[i]!.start < off + len && off < g[i]!.end) {
        throw invalidState(`Bytes ${g[i]!.start}..${g[i]!.end} of the mapping are guard pages: any access kills the process. unguard() them first`);
      }
    }
    const segs = this.#segments;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if (s.start < off + len && off < s.end && !isWritable(s.prot)) {
        throw invalidState(
          `Bytes ${s.start}..${s.end} of the mapping have protection '${s.prot}': JS cannot hold a read-only ` +
            `ArrayBuffer (a write would kill the process). Protect them 'rw' first, or use unsafe.view()`,
        );
      }
    }
  }

  /**
   * The whole mapping as one ArrayBuffer (created once, then reused). Throws
   * a RangeError when the mapping is larger than the running Node allows in
   * one ArrayBuffer (2^32 bytes on Node 20): use {@link Mapping.view}.
   */
  get buffer(): ArrayBuffer {
    brand(this);
    this.#live();
    if (this.#buffer && this.#buffer.byteLength === this.#length) return this.#buffer;
    const max = maxArrayBufferLength();
    if (this.#length > max) {
      throw outOfRange('length', `<= ${max} bytes for one ArrayBuffer on Node ${process.version}; use mapping.view(offset, length)`, this.#length);
    }
    this.#checkWritable(0, this.#length);
    this.#buffer = native.regionBuffer(this.#region, 0, this.#length);
    return this.#buffer;
  }

  /**
   * A window `[offset, offset + length)` as a Uint8Array over its own
   * external ArrayBuffer (any byte offset; at most the largest ArrayBuffer
   * Node allows). Detached with the rest on unmap.
   */
  view(offset?: number, length?: number): Uint8Array {
    brand(this);
    this.#live();
    const off = offset === undefined ? 0 : checkInteger('offset', offset, 0, this.#length);
    const max = Math.min(this.#length - off, maxArrayBufferLength());
    const len = length === undefined ? max : checkInteger('length', length, 0, max);
    this.#checkWritable(off, len);
    return new Uint8Array(native.regionBuffer(this.#region, off, len));
  }

  /** `madvise(advice)` over `[offset, offset + length)` (offset page-aligned; default the whole mapping). */
  advise(advice: Advice, offset?: number, length?: number): this {
    brand(this);
    // Fast path: a known advice over a page-aligned range inside the mapping,
    // given as plain integers (what nearly every call is); anything else goes
    // through the full checks below, which name what is wrong.
    const known = adviceByName(advice);
    if (known !== undefined && this.#mapped && plainRange(offset, length, this.#length, this.#page, false)) {
      native.madvise(this.#region, offset!, length!, known);
      return this;
    }
    const n = adviceNumber(advice);
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    native.madvise(this.#region, off, len, n);
    return this;
  }

  /**
   * `mprotect(prot)` over a page-aligned range. Without write permission,
   * every ArrayBuffer overlapping the range is detached first (whole buffers:
   * a view that only partly overlaps dies too).
   */
  protect(prot: Prot, offset?: number, length?: number): this {
    brand(this);
    let bits = protByName(prot);
    let off: number;
    let len: number;
    const page = this.#page;
    if (bits !== undefined && this.#mapped && plainRange(offset, length, this.#length, page, true)) {
      // Fast path (as in advise): a known protection over a page-aligned range given as integers.
      off = offset!;
      len = length!;
    } else {
      bits = protBits('prot', prot);
      this.#live();
      let rawLen: number;
      [off, rawLen] = checkRange(this.#length, page, offset, length);
      len = roundUp(rawLen, page);
    }
    try {
      native.mprotect(this.#region, off, len, bits);
    } catch (err) {
      // mprotect works VMA by VMA and can fail part-way (ENOMEM when a split
      // passes vm.max_map_count), leaving part of the range changed. Record
      // a protection without write for the whole range, so no view is made
      // over pages that may have lost PROT_WRITE; protect again to recover.
      // A refusal before the system call (a transferred buffer holds the
      // range: ERR_INVALID_STATE) changed nothing.
      // Nor did a sealed mapping's EPERM (mseal is checked before any change).
      if (len > 0 && !isWritable(prot) && (err as { code?: unknown }).code !== 'ERR_INVALID_STATE' && !this.#sealed) this.#setSegment(off, off + len, prot);
      throw err;
    }
    if (len > 0) this.#setSegment(off, off + len, prot);
    return this;
  }

  #setSegment(start: number, end: number, prot: Prot): void {
    // The common case, the whole mapping, without walking the list.
    if (start === 0 && end >= this.#length) {
      this.#segments = [{ start: 0, end: this.#length, prot }];
      return;
    }
    // Segments are sorted and cover [0, length) without gaps: one pass keeps
    // what lies outside [start, end), puts the new segment in its place and
    // merges neighbours of equal protection.
    const out: Segment[] = [];
    let placed = false;
    const segs = this.#segments;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if (s.end <= start) {
        addSegment(out, s.start, s.end, s.prot);
        continue;
      }
      if (s.start < start) addSegment(out, s.start, start, s.prot);
      if (!placed && s.end > start) {
        addSegment(out, start, end, prot);
        placed = true;
      }
      if (s.end > end) addSegment(out, Math.max(s.start, end), s.end, s.prot);
    }
    if (!placed) addSegment(out, start, end, prot);
    this.#segments = out;
  }

  /**
   * Pages of `[offset, offset + length)` mapped in this process now: by
   * `mincore` for private anonymous memory; by this process's page tables
   * (`/proc/self/pagemap`) for shared and file mappings, where `mincore`
   * would count page-cache pages this process does not map. Where pagemap
   * cannot be read, throws with the reason (use `residency()` to choose).
   */
  residentPages(offset?: number, length?: number): number {
    brand(this);
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    if (this.#kind.shared || this.#kind.file) {
      mnative.pagemapCount(this.#region, off, len, pagemapOut, 0n);
      return pagemapOut[0]!;
    }
    return native.mincore(this.#region, off, len, null);
  }

  /**
   * The `mincore` vector of `[offset, offset + length)`: one byte per page,
   * bit 0 set when resident (for shared and file mappings: in the page cache,
   * whether or not this process maps it).
   */
  residencyVector(offset?: number, length?: number): Uint8Array {
    brand(this);
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    const pages = Math.ceil(len / this.#page);
    if (pages > maxArrayBufferLength()) {
      throw outOfRange('length', `at most ${maxArrayBufferLength()} pages (one byte each in one Uint8Array on Node ${process.version}); ask for a smaller range`, len);
    }
    const vec = new Uint8Array(pages);
    native.mincore(this.#region, off, len, vec);
    return vec;
  }

  /** `mlock` (or `mlock2(MLOCK_ONFAULT)`) over a range; limited by RLIMIT_MEMLOCK. */
  lock(options?: LockOptions, offset?: number, length?: number): this {
    brand(this);
    const o = checkOptions<LockOptions>('options', options, ['onFault']);
    const onFault = o.onFault === undefined ? false : checkBoolean('options.onFault', o.onFault);
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    native.mlock(this.#region, off, len, onFault ? 1 : 0);
    return this;
  }

  /** `munlock` over a range. */
  unlock(offset?: number, length?: number): this {
    brand(this);
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    native.munlock(this.#region, off, len);
    return this;
  }

  /** `msync` over a range: writes a shared file mapping's dirty pages back (a no-op for anonymous memory). */
  sync(options?: SyncOptions, offset?: number, length?: number): this {
    brand(this);
    const o = checkOptions<SyncOptions>('options', options, ['async', 'invalidate']);
    const async = o.async === undefined ? false : checkBoolean('options.async', o.async);
    const inval = o.invalidate === undefined ? false : checkBoolean('options.invalidate', o.invalidate);
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    native.msync(this.#region, off, len, (async ? C.MS_ASYNC! : C.MS_SYNC!) | (inval ? C.MS_INVALIDATE! : 0));
    return this;
  }

  /**
   * Names the range `[anon:LABEL]` in `/proc/self/maps` with
   * `prctl(PR_SET_VMA_ANON_NAME)` (anonymous private memory, Linux 5.17+);
   * `null` clears it.
   */
  name(label: string | null, offset?: number, length?: number): this {
    brand(this);
    const name = label === null ? null : checkVmaName(label);
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    native.prctlSetVmaAnonName(this.#region, off, len, name);
    this.#label = name;
    return this;
  }

  /**
   * Seals the mapping with `mseal` (Linux 6.10+): the kernel then refuses
   * `munmap`, `mprotect` and `mremap` on it for the life of the process
   * (each fails with `EPERM`), and destructive `madvise` (`dontneed`, `free`)
   * where the process cannot write the memory, and pagewise never tries
   * to unmap it again (the finalizer leaves it). For memory that must not be
   * remapped under you (keys, code). Throws
   * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` on older kernels.
   */
  seal(): this {
    brand(this);
    this.#live();
    requireFeature('mseal');
    native.regionSeal(this.#region);
    this.#sealed = true;
    return this;
  }

  /** Whether {@link Mapping.seal} sealed it. */
  get sealed(): boolean {
    brand(this);
    return this.#sealed;
  }

  /**
   * Installs guard pages over `[offset, offset + length)` with
   * `MADV_GUARD_INSTALL` (Linux 6.13+; file mappings 6.15+): any access to
   * them is a SIGSEGV, like `PROT_NONE`, but they cost no extra mapping (the
   * VMA is not split). Every ArrayBuffer over the range is detached first and
   * no view is made over guarded pages, so JS can never touch one; refused
   * (`ERR_INVALID_STATE`) where a buffer over the range escaped (`transfer()`)
   * or another thread shares the mapping. The pages' contents are discarded.
   */
  guard(offset?: number, length?: number): this {
    brand(this);
    const [off, n] = this.#guardRange(offset, length);
    if (n === 0) return this;
    if (native.regionSharedRefs(this.#region) > 1) throw invalidState('Guard pages cannot be installed in memory another thread shares: its views would fault');
    if (native.regionEscaped(this.#region, off, n)) {
      throw invalidState('Guard pages cannot be installed where an ArrayBuffer over the range escaped pagewise (transfer()): a JS access through it would kill the process');
    }
    native.regionDetach(this.#region, off, n);
    if (this.#buffer && this.#buffer.byteLength === 0) this.#buffer = null;
    native.madvise(this.#region, off, n, native.newmmConstants.MADV_GUARD_INSTALL!);
    this.#guards = mergeRanges(this.#guards, off, off + n, true);
    return this;
  }

  /** Removes guard pages over the range (`MADV_GUARD_REMOVE`); they read back as zeros. */
  unguard(offset?: number, length?: number): this {
    brand(this);
    const [off, n] = this.#guardRange(offset, length);
    if (n === 0) return this;
    native.madvise(this.#region, off, n, native.newmmConstants.MADV_GUARD_REMOVE!);
    this.#guards = mergeRanges(this.#guards, off, off + n, false);
    return this;
  }

  /** The checks guard() and unguard() share: the page-rounded range, once the kernel has guard regions. */
  #guardRange(offset: number | undefined, length: number | undefined): [number, number] {
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    const n = roundUp(len, this.#page);
    requireFeature('guard');
    return [off, n];
  }

  /** Bytes of the mapping under guard pages (installed with {@link Mapping.guard}). */
  get guardedBytes(): number {
    brand(this);
    let n = 0;
    const g = this.#guards;
    for (let i = 0; i < g.length; i++) n += g[i]!.end - g[i]!.start;
    return n;
  }

  /**
   * A token for the same memory in another thread of this process: post it
   * to a worker (`postMessage(token)`) and call {@link attach} there. The
   * memory then lives until every thread that attached it (and this one) has
   * unmapped it or let its Mapping be collected; `unmap()` in one thread
   * detaches that thread's buffers only. The mapping must be read-write
   * throughout, and while another thread holds it, `protect()` cannot take
   * write access away (their views would fault) and `resize()` is refused.
   * The token holds nothing: `attach()` after every holder let go fails
   * with `ERR_INVALID_STATE`.
   */
  share(): ShareToken {
    brand(this);
    this.#live();
    const segs = this.#segments;
    if (segs.length !== 1 || !isWritable(segs[0]!.prot)) {
      throw invalidState("Only a mapping that is read-write throughout can be shared (protect it 'rw' first)");
    }
    const id = native.regionShare(this.#region);
    return Object.freeze({ pagewiseShare: 1 as const, id, length: this.#length, pageSize: this.#page, kind: this.#kind });
  }

  /**
   * The whole mapping as a real `SharedArrayBuffer` (so `Atomics.wait` and
   * `notify` work), created once and cached. It holds the memory until it is
   * collected in every thread it reached: `unmap()` does not take it away
   * (a SharedArrayBuffer cannot be detached). Needs a Node whose Node-API has
   * `node_api_create_external_sharedarraybuffer` (probed at run time: Node
   * 22.23, 24.22 and 26.12 have it; Node 20 does not); elsewhere throws
   * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`.
   */
  get sharedBuffer(): SharedArrayBuffer {
    brand(this);
    this.#live();
    if (this.#sab) return this.#sab;
    if (!native.sharedBufferSupported()) {
      const e = new Error(
        `A SharedArrayBuffer over external memory needs node_api_create_external_sharedarraybuffer, which Node ${process.version} lacks (Node 22.23, 24.22 and 26.12 have it): use share() and attach(), or Atomics on a SharedArrayBuffer of your own`,
      ) as Error & { code: string };
      e.code = 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM';
      throw e;
    }
    const segs = this.#segments;
    if (segs.length !== 1 || !isWritable(segs[0]!.prot)) throw invalidState("A SharedArrayBuffer needs a mapping that is read-write throughout (protect it 'rw' first)");
    const max = maxArrayBufferLength();
    if (this.#length > max) throw outOfRange('length', `<= ${max} bytes for one SharedArrayBuffer on Node ${process.version}`, this.#length);
    this.#sab = native.regionSharedBuffer(this.#region)!;
    return this.#sab;
  }

  /** How many holders share this memory (this thread's Mapping, other threads' attachments, SharedArrayBuffers); 0 when never shared. */
  get sharedHolders(): number {
    brand(this);
    return native.regionSharedRefs(this.#region);
  }

  /**
   * Grows or shrinks the mapping with `mremap`, in place by default
   * (`ENOMEM` when the next range is taken); `{ mayMove: true }` lets it
   * move, after detaching every buffer over it. Buffers over bytes that go
   * away are detached; memory they may still reach (an escaped or in-flight
   * buffer) stays mapped until they are gone: a shared mapping's old range
   * keeps its pages, a private one's is emptied with `MREMAP_DONTUNMAP`
   * (Linux 5.7+). Bytes cut off by shrinking that such a buffer may still
   * reach become zero pages, unmapped when it is gone. A file mapping must stay
   * within its file: grow the file first (`fs.ftruncateSync`,
   * `SharedMemory.resize`); the file is checked through `options.fd` or the
   * descriptor it was mapped with, if it is still open. Returns the address.
   */
  resize(length: number, options?: ResizeOptions): bigint {
    brand(this);
    const o = checkOptions<ResizeOptions>('options', options, ['mayMove', 'fd']);
    const mayMove = o.mayMove === undefined ? false : checkBoolean('options.mayMove', o.mayMove);
    this.#live();
    checkInteger('length', length, 1);
    const page = this.#page;
    const len = roundUp(length, page);
    if (!isSafeInteger(len)) throw outOfRange('length', `<= ${Number.MAX_SAFE_INTEGER - page}`, length);
    if (this.#kind.hugePages && len % page !== 0) throw outOfRange('length', `a multiple of the huge page size ${page}`, length);
    if (this.#kind.file && len > this.#length) {
      const f = this.#file;
      if (!f) throw invalidState('Growing this file mapping needs its file, which could not be identified when it was mapped');
      const fd = o.fd !== undefined ? checkInteger('options.fd', o.fd, 0, 2 ** 31 - 1) : f.fd;
      let st: fs.Stats | null;
      try {
        st = fs.fstatSync(fd);
      } catch {
        st = null;
      }
      if (st && (st.dev !== f.dev || st.ino !== f.ino)) {
        if (o.fd !== undefined) throw invalidValue('options.fd', 'is not the file this mapping maps', o.fd);
        st = null;
      }
      if (!st) throw invalidState('Growing a file mapping needs its file to check its length: pass { fd } (the descriptor it was mapped with is closed or reused)');
      const end = roundUp(st.size, page);
      if (f.offset + len > end) {
        throw outOfRange('length', `<= ${Math.max(0, end - f.offset)} (the file has ${st.size} bytes from offset ${f.offset}; a page past its end is a SIGBUS on access: grow the file first)`, length);
      }
    }
    const segs = this.#segments;
    const last = segs[segs.length - 1]!;
    const tailProt = protBits('prot', last.prot);
    const tailFlags = this.#kind.noReserve ? C.MAP_NORESERVE! : 0;
    const k = this.#kind;
    const privateAnonRW = !k.file && !k.shared && !k.hugePages && segs.length === 1 && segs[0]!.prot === 'rw';
    const address = native.regionResize(this.#region, len, mayMove, k.shared, tailProt, tailFlags, privateAnonRW);
    const old = this.#length;
    this.#address = address;
    this.#length = len;
    if (len > old) this.#setSegment(old, len, last.prot);
    else {
      const out: Segment[] = [];
      for (let i = 0; i < segs.length; i++) {
        const sg = segs[i]!;
        if (sg.start < len) addSegment(out, sg.start, Math.min(sg.end, len), sg.prot);
      }
      this.#segments = out;
    }
    if (this.#buffer && this.#buffer.byteLength !== len) this.#buffer = null;
    return address;
  }

  /**
   * Detaches every ArrayBuffer over the mapping, then `munmap`s it.
   * Calling it again does nothing. Returns the number of ArrayBuffers detached.
   */
  unmap(): number {
    brand(this);
    if (!this.#mapped) return 0;
    const k = this.#kind;
    const segs = this.#segments;
    // MADV_DONTNEED keeps guard markers: a mapping with guards is replaced instead.
    const privateAnonRW = !k.file && !k.shared && !k.hugePages && segs.length === 1 && segs[0]!.prot === 'rw' && this.#guards.length === 0;
    const n = native.munmap(this.#region, privateAnonRW);
    this.#mapped = false;
    this.#buffer = null;
    this.#sab = null;
    return n;
  }

  /** `using m = mmap(...)` unmaps at the end of the block. */
  [Symbol.dispose](): void {
    this.unmap();
  }

  /** @internal */
  [inspect.custom](): string {
    const prots = this.#segments.map((s) => (this.#segments.length > 1 ? `${s.prot}@${s.start}` : s.prot)).join(',');
    return `Mapping { address: 0x${this.address.toString(16)}, length: ${this.#length}, prot: ${prots}, ${this.#mapped ? 'mapped' : 'unmapped'} }`;
  }
}

function hugeFlag(size: number): number {
  const log = Math.log2(size);
  if (!Number.isInteger(log)) throw outOfRange('hugePageSize', 'a power of two', size);
  return log << C.MAP_HUGE_SHIFT!;
}

/**
 * Maps `length` bytes (rounded up to whole pages): anonymous memory by
 * default, a file with `options.file`. Returns a {@link Mapping}.
 *
 * @example
 * const m = mmap(1 << 30, { noReserve: true });
 * m.residentPages(); // 0: nothing is resident until touched
 */
export function mmap(length: number, options?: MmapOptions): Mapping {
  const page = pageSize();
  checkInteger('length', length, 1);
  const o = checkOptions<MmapOptions>('options', options, MMAP_OPTIONS);
  const prot: Prot = o.prot === undefined ? 'rw' : o.prot;
  const protNum = protBits('options.prot', prot);
  const shared = o.shared === undefined ? false : checkBoolean('options.shared', o.shared);
  const noReserve = o.noReserve === undefined ? false : checkBoolean('options.noReserve', o.noReserve);
  const populate = o.populate === undefined ? false : checkBoolean('options.populate', o.populate);
  const huge = o.hugePages === undefined ? false : checkBoolean('options.hugePages', o.hugePages);
  let align = page;
  let flags = (shared ? C.MAP_SHARED! : C.MAP_PRIVATE!) | (noReserve ? C.MAP_NORESERVE! : 0) | (populate ? C.MAP_POPULATE! : 0);
  if (o.hugePageSize !== undefined) {
    if (!huge) throw invalidValue('options.hugePageSize', 'needs options.hugePages: true', o.hugePageSize);
    align = checkInteger('options.hugePageSize', o.hugePageSize, page);
    flags |= hugeFlag(align);
  } else if (huge) {
    const pools = hugetlbDefault();
    align = pools ?? page;
  }
  if (huge) flags |= C.MAP_HUGETLB!;
  // hugetlbfs pages not reserved at mmap time are a SIGBUS on first touch
  // when the pool is empty: without the reservation there is no safe way.
  if (huge && noReserve) throw invalidValue('options.noReserve', 'cannot be combined with hugePages (an unreserved hugetlbfs page is a SIGBUS on first touch when the pool is empty)', o.noReserve);
  let fd = -1;
  let fileOffset = 0;
  if (o.file !== undefined) {
    const f = checkObject<{ fd?: unknown; offset?: unknown }>('options.file', o.file);
    for (const key of Object.keys(f)) if (key !== 'fd' && key !== 'offset') throw invalidValue('options.file', `has an unknown option "${key}" (known: fd, offset)`, o.file);
    fd = checkInteger('options.file.fd', f.fd, 0, 2 ** 31 - 1);
    fileOffset = f.offset === undefined ? 0 : checkAligned('options.file.offset', f.offset, page);
  } else {
    flags |= C.MAP_ANONYMOUS!;
  }
  let hint = 0n;
  if (o.address !== undefined) {
    hint = checkBigAddress('options.address', o.address);
    if (hint === 0n) throw outOfRange('options.address', 'a non-zero address (no ArrayBuffer can start at address 0)', hint);
    if (hint % BigInt(page) !== 0n) throw outOfRange('options.address', `a multiple of the page size (${page})`, hint);
    flags |= C.MAP_FIXED_NOREPLACE!;
  }
  const name = o.name === undefined ? undefined : checkVmaName(o.name);
  if (o.droppable !== undefined && checkBoolean('options.droppable', o.droppable)) {
    if (fd >= 0 || shared || huge) throw invalidValue('options.droppable', 'needs anonymous private memory (no file, shared or hugePages)', o.droppable);
    requireFeature('droppable');
    // MAP_DROPPABLE is a mapping type of its own, in place of MAP_PRIVATE.
    flags = (flags & ~C.MAP_PRIVATE!) | native.newmmConstants.MAP_DROPPABLE!;
  }
  const len = roundUp(length, align);
  if (!Number.isSafeInteger(len)) throw outOfRange('length', `<= ${Number.MAX_SAFE_INTEGER - align}`, length);
  if (fd >= 0) checkInsideFile(fd, fileOffset, len, page);
  // Report committed memory to V8 so its GC weighs the mapping; a
  // NORESERVE or PROT_NONE reservation is address space, not memory.
  const report = noReserve || prot === 'none' ? 0 : len;
  const region = native.mmap(len, protNum, flags, fd, fileOffset, hint, report);
  const m = newMapping(region, len, prot, page, { file: fd >= 0, shared, noReserve, hugePages: huge });
  if (fd >= 0) {
    try {
      const st = fs.fstatSync(fd);
      setFileInfo(m, { fd, offset: fileOffset, dev: st.dev, ino: st.ino });
    } catch {
      // fstat failed after mmap succeeded: resize() will ask for { fd }.
    }
  }
  if (name !== undefined && vmaNamesSupported()) m.name(name);
  return m;
}

/**
 * A page of a file mapping that lies wholly past the end of the file is a
 * SIGBUS on access, so a mapping of a regular file must end within the
 * file's last page. (A file truncated after it was mapped cannot be guarded
 * against: see the README's Reliability section.) When fstat fails, mmap
 * reports the descriptor's error itself.
 */
function checkInsideFile(fd: number, offset: number, len: number, page: number): void {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch {
    return;
  }
  if (!st.isFile()) return;
  const end = roundUp(st.size, page);
  if (offset + len > end) {
    throw outOfRange('length', `<= ${Math.max(0, end - offset)} (the file's ${st.size} bytes from offset ${offset}, rounded up to a page; a page past the end of a file is a SIGBUS on access)`, len);
  }
}

let namesSupported: boolean | undefined;

/**
 * Whether this kernel can name anonymous memory (`PR_SET_VMA_ANON_NAME`,
 * Linux 5.17+ built with CONFIG_ANON_VMA_NAME). Probed once on one page.
 */
export function vmaNamesSupported(): boolean {
  if (namesSupported === undefined) {
    const page = pageSize();
    const r = native.mmap(page, protBits('prot', 'none'), C.MAP_PRIVATE! | C.MAP_ANONYMOUS!, -1, 0, 0n, 0);
    try {
      native.prctlSetVmaAnonName(r, 0, page, 'pagewise-probe');
      namesSupported = true;
    } catch {
      namesSupported = false;
    } finally {
      native.munmap(r);
    }
  }
  return namesSupported;
}

let defaultHuge: number | null | undefined;
function hugetlbDefault(): number | null {
  if (defaultHuge === undefined) {
    try {
      // Hugepagesize in /proc/meminfo is the default hugetlbfs page size.
      const text = fs.readFileSync('/proc/meminfo', 'utf8');
      const m = /^Hugepagesize:\s+(\d+) kB/m.exec(text);
      defaultHuge = m ? Number(m[1]) * 1024 : null;
    } catch {
      defaultHuge = null;
    }
  }
  return defaultHuge;
}

/**
 * The Mapping of another thread's {@link Mapping.share} token, over the same
 * memory at the same address. Throws `ERR_INVALID_STATE` when every thread
 * that held the memory has let go of it.
 */
export function attach(token: ShareToken): Mapping {
  const t = checkObject<Partial<ShareToken>>('token', token);
  if (t.pagewiseShare !== 1 || typeof t.id !== 'bigint' || typeof t.length !== 'number' || typeof t.pageSize !== 'number' || typeof t.kind !== 'object' || t.kind === null) {
    throw invalidType('token', 'a token made by mapping.share()', token);
  }
  const k = t.kind;
  const region = native.regionAttach(t.id);
  return newMapping(region, t.length, 'rw', t.pageSize, { file: k.file === true, shared: k.shared === true, noReserve: k.noReserve === true, hugePages: k.hugePages === true });
}

/** Functional form of {@link Mapping.unmap}. */
export function munmap(mapping: Mapping): number {
  return asMapping(mapping).unmap();
}
/**
 * The fast paths' test: `offset` and `length` are integers, `offset` (and
 * with `alignLength` also `length`) a multiple of `page`, and the range lies
 * inside `size` bytes. Anything else takes the full checks, which name what
 * is wrong.
 */
function plainRange(offset: unknown, length: unknown, size: number, page: number, alignLength: boolean): boolean {
  return (
    typeof offset === 'number' && typeof length === 'number' && isSafeInteger(offset) && isSafeInteger(length) &&
    offset >= 0 && length >= 0 && offset % page === 0 && (!alignLength || length % page === 0) && length <= size - offset
  );
}

/** Adds (`add`) or removes [start, end) from sorted, disjoint ranges. */
function mergeRanges(ranges: Segment[], start: number, end: number, add: boolean): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (r.end <= start || r.start >= end) out[out.length] = r;
    else {
      if (r.start < start) out[out.length] = { start: r.start, end: start, prot: 'none' };
      if (r.end > end) out[out.length] = { start: end, end: r.end, prot: 'none' };
      if (add) {
        start = Math.min(start, r.start);
        end = Math.max(end, r.end);
      }
    }
  }
  if (add) out[out.length] = { start, end, prot: 'none' };
  out.sort((a, b) => a.start - b.start);
  // Adjacent ranges merge.
  const merged: Segment[] = [];
  for (let i = 0; i < out.length; i++) {
    const last = merged[merged.length - 1];
    if (last && last.end >= out[i]!.start) last.end = Math.max(last.end, out[i]!.end);
    else merged[merged.length] = { ...out[i]! };
  }
  return merged;
}

/** Appends [start, end) to sorted, contiguous segments, merging with the last one when the protection is the same. */
function addSegment(out: Segment[], start: number, end: number, prot: Prot): void {
  const last = out[out.length - 1];
  if (last && last.prot === prot && last.end === start) last.end = end;
  else out[out.length] = { start, end, prot };
}

/** Functional form of {@link Mapping.advise}. */
export function madvise(mapping: Mapping, advice: Advice, offset?: number, length?: number): void {
  asMapping(mapping).advise(advice, offset, length);
}
/** Functional form of {@link Mapping.protect}. */
export function mprotect(mapping: Mapping, prot: Prot, offset?: number, length?: number): void {
  asMapping(mapping).protect(prot, offset, length);
}
/** Functional form of {@link Mapping.residencyVector}: the `mincore` vector. */
export function mincore(mapping: Mapping, offset?: number, length?: number): Uint8Array {
  return asMapping(mapping).residencyVector(offset, length);
}
/** Functional form of {@link Mapping.lock}. */
export function mlock(mapping: Mapping, options?: LockOptions, offset?: number, length?: number): void {
  asMapping(mapping).lock(options, offset, length);
}
/** Functional form of {@link Mapping.unlock}. */
export function munlock(mapping: Mapping, offset?: number, length?: number): void {
  asMapping(mapping).unlock(offset, length);
}
/** Functional form of {@link Mapping.sync}. */
export function msync(mapping: Mapping, options?: SyncOptions, offset?: number, length?: number): void {
  asMapping(mapping).sync(options, offset, length);
}

/** @internal */
export function asMapping(value: unknown): Mapping {
  if (!Mapping.isMapping(value)) throw invalidType('mapping', 'an instance of Mapping', value);
  return value;
}
