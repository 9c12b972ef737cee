/**
 * The `Mapping` class: one mapping of the process's address space, its memory
 * reachable from JS only through external ArrayBuffers that pagewise detaches
 * before the memory goes away. Made by `mmap()` (./functional.ts).
 */
import { inspect } from 'node:util';
import { native, type RegionHandle } from '../native/binding';
import { requireFeature } from '../kernel/features';
import { maxArrayBufferLength, roundUp } from '../kernel/system';
import { adviceByName, protByName, adviceNumber, isWritable, protBits, type Advice, type Prot } from './flags';
import { checkBoolean, checkInteger, checkOptions, checkRange } from '../validate';
import { invalidState, invalidType, outOfRange } from '../errors';
import { checkVmaName } from './map-options';
import { decodeLockOptions, decodeSyncOptions, type LockOptions, type ResizeOptions, type SyncOptions } from './method-options';
import { residencyVector, residentPages } from './residency';
import { checkFileGrowth, resizeLength, type FileInfo } from './resize';
import { checkWritable, mergeRanges, plainRange, rangeBytes, readWriteThroughout, setSegment, truncateSegments, type Segment } from './segments';
import { shareRegion, sharedBufferOver, type ShareToken } from '../sharing/share';
import { dontneedGivesBack, installGuards, removeGuards } from './guard';

const C = native.constants;

let setFileInfo: (m: Mapping, info: FileInfo) => void;

/** @internal Records the file behind a file mapping (for resize()). */
export function setMappingFile(m: Mapping, info: FileInfo): void {
  setFileInfo(m, info);
}

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
    checkWritable(this.#guards, this.#segments, 0, this.#length);
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
    checkWritable(this.#guards, this.#segments, off, len);
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
    this.#segments = setSegment(this.#segments, this.#length, start, end, prot);
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
    return residentPages(this.#region, this.#kind, off, len);
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
    return residencyVector(this.#region, off, len, this.#page);
  }

  /** `mlock` (or `mlock2(MLOCK_ONFAULT)`) over a range; limited by RLIMIT_MEMLOCK. */
  lock(options?: LockOptions, offset?: number, length?: number): this {
    brand(this);
    const onFault = decodeLockOptions(options);
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
    const flags = decodeSyncOptions(options);
    this.#live();
    const [off, len] = checkRange(this.#length, this.#page, offset, length);
    native.msync(this.#region, off, len, flags);
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
    native.mseal(this.#region);
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
    installGuards(this.#region, off, n, () => {
      if (this.#buffer && this.#buffer.byteLength === 0) this.#buffer = null;
    }, () => {
      this.#guards = mergeRanges(this.#guards, off, off + n, true);
    });
    return this;
  }

  /** Removes guard pages over the range (`MADV_GUARD_REMOVE`); they read back as zeros. */
  unguard(offset?: number, length?: number): this {
    brand(this);
    const [off, n] = this.#guardRange(offset, length);
    if (n === 0) return this;
    removeGuards(this.#region, off, n);
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
    return rangeBytes(this.#guards);
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
    return shareRegion(this.#region, this.#kind, this.#page, this.#length, readWriteThroughout(this.#segments), this.#guards.length > 0);
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
    this.#sab ??= sharedBufferOver(this.#region, this.#length, readWriteThroughout(this.#segments));
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
    const page = this.#page;
    const len = resizeLength(length, page, this.#kind.hugePages);
    if (this.#kind.file && len > this.#length) checkFileGrowth(this.#file, o, len, length, page);
    const segs = this.#segments;
    const last = segs[segs.length - 1]!;
    const tailProt = protBits('prot', last.prot);
    const tailFlags = this.#kind.noReserve ? C.MAP_NORESERVE : 0;
    const k = this.#kind;
    const privateAnonRW = dontneedGivesBack(k, segs, this.#guards);
    let address: bigint;
    try {
      address = native.regionResize(this.#region, len, mayMove, k.shared, tailProt, tailFlags, privateAnonRW, k.file);
    } catch (err) {
      // A move that could not grow leaves the mapping at its new address, at its old size.
      this.#address = undefined;
      this.#buffer = null;
      throw err;
    }
    const old = this.#length;
    this.#address = address;
    this.#length = len;
    if (len > old) this.#setSegment(old, len, last.prot);
    else {
      this.#segments = truncateSegments(segs, len);
      // Guard pages cut off went with the bytes (a later growth maps fresh pages).
      this.#guards = mergeRanges(this.#guards, len, old, false);
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
    const n = native.munmap(this.#region, dontneedGivesBack(this.#kind, this.#segments, this.#guards));
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

/** @internal */
export function asMapping(value: unknown): Mapping {
  if (!Mapping.isMapping(value)) throw invalidType('mapping', 'an instance of Mapping', value);
  return value;
}
