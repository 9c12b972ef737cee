/**
 * `discard()`: give back the whole pages inside any ArrayBuffer-backed
 * memory with `madvise(MADV_DONTNEED)`, after checking that the
 * pages are private anonymous read-write memory of this process and that the
 * range holds only the buffer's own bytes.
 *
 * Why it cannot harm other objects:
 * - The address comes from the ArrayBuffer natively (`napi_get_arraybuffer_info`),
 *   read again in the call that advises; only whole pages strictly inside
 *   `[data, data + byteLength)` are advised, so a neighbour sharing a page
 *   with the buffer (malloc puts small blocks side by side) keeps its bytes.
 * - Node's Buffer pool (one ArrayBuffer shared by many small Buffers) is refused:
 *   where Node 21+ reports it untransferable (`worker_threads.isMarkedAsUntransferable`,
 *   which also holds for external ArrayBuffers: other addons' memory is
 *   refused with it, pagewise's own is known by its Region), by its size on
 *   Node 20 (8 KiB, 64 KiB, `Buffer.poolSize`: a 64 KiB ArrayBuffer or a one-page
 *   WebAssembly.Memory is refused there too).
 * - Every VMA under the pages must be private, anonymous and read-write: a
 *   private file mapping would read back the file, a shared one would zero
 *   another process's or thread's view.
 * - A pagewise Mapping's memory agrees with the region records (native/region-discard.cc):
 *   memory shared with other threads is refused like a SharedArrayBuffer.
 * `MADV_DONTNEED` keeps the mapping read-write, so nothing can fault on it:
 * the pages read as zero afterwards and RSS drops at once (a transparent huge
 * page is split; its memory returns when the kernel's deferred split runs).
 */
import { Buffer } from 'node:buffer';
import { types } from 'node:util';
import * as workerThreads from 'node:worker_threads';
import { native } from '../native/binding';
import { readMaps } from '../kernel/maps-query';
import { kernelHas } from '../kernel/features';
import type { MapsEntry } from '../kernel/maps';
import { pageSize } from '../kernel/system';
import { checkInteger } from '../validate';
import { invalidType, outOfRange, invalidState, pagewiseError } from '../errors';

// Geometry through intrinsics captured at load (DESIGN.md, Safety): a
// caller cannot lie about a view's buffer, offset or length by overriding getters.
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const getter = (proto: object, name: string): ((this: unknown) => unknown) => {
  const g = Object.getOwnPropertyDescriptor(proto, name)?.get;
  if (!g) throw new Error(`pagewise: no ${name} getter`);
  return g as (this: unknown) => unknown;
};
const taBuffer = getter(typedArrayProto, 'buffer');
const taOffset = getter(typedArrayProto, 'byteOffset');
const taLength = getter(typedArrayProto, 'byteLength');
const dvBuffer = getter(DataView.prototype, 'buffer');
const dvOffset = getter(DataView.prototype, 'byteOffset');
const dvLength = getter(DataView.prototype, 'byteLength');
const call = Function.prototype.call.bind(Function.prototype.call) as (fn: (this: unknown) => unknown, self: unknown) => unknown;
const isMarkedAsUntransferable = (workerThreads as { isMarkedAsUntransferable?: (v: unknown) => boolean }).isMarkedAsUntransferable;
/** Node 20 cannot tell its pool apart: its sizes (8 KiB; 64 KiB in later lines), and what Buffer.poolSize said at load. */
const POOL_SIZES = new Set([8192, 65536, Buffer.poolSize]);

/** What {@link discard} gave back. */
export interface DiscardResult {
  /** Bytes advised with `MADV_DONTNEED`: the whole pages inside the range (they read as zero now). */
  bytes: number;
  /** Of those, the bytes that were resident just before (by `mincore` of the range: the most RSS can fall by). */
  residentBefore: number;
  /** Address of the first page given back (`0n` when none). */
  address: bigint;
  /** Bytes of the range before the first whole page and after the last, left as they were. */
  head: number;
  tail: number;
  /** How the pages were checked: one `PROCMAP_QUERY` per VMA (Linux 6.11+), or a parse of /proc/self/maps. */
  checkedBy: 'procmap_query' | 'maps' | 'none';
}

/**
 * @internal A layer above that hands out blocks inside ArrayBuffers of its
 * own (the arena) says which targets hold other blocks' bytes: a reason to
 * refuse, or null.
 */
export type DiscardGuard = (target: object, ab: ArrayBuffer) => string | null;
const guards: DiscardGuard[] = [];
/** @internal A check by address: the whole pages [first, last) a discard of `target` would give back. */
export type DiscardRangeGuard = (first: bigint, last: bigint, target: object) => string | null;
const rangeGuards: DiscardRangeGuard[] = [];
/** @internal Registers a {@link DiscardRangeGuard} (the arena does at load). */
export function addDiscardRangeGuard(guard: DiscardRangeGuard): void {
  rangeGuards.push(guard);
}
/** @internal Registers a {@link DiscardGuard} (the arena does at load). */
export function addDiscardGuard(guard: DiscardGuard): void {
  guards.push(guard);
}

type Refusal = 'ERR_PAGEWISE_BUFFER_POOL' | 'ERR_PAGEWISE_FILE_MAPPING' | 'ERR_PAGEWISE_SHARED_MAPPING' | 'ERR_PAGEWISE_FOREIGN_RANGE';

function refuse(code: Refusal, message: string): Error & { code: Refusal } {
  return pagewiseError(code, message);
}

/** The ArrayBuffer, and the byte range of it the argument covers. */
function geometry(target: unknown): { ab: ArrayBuffer; start: number; length: number } {
  if (types.isArrayBuffer(target)) return { ab: target, start: 0, length: -1 };
  if (types.isTypedArray(target) || types.isDataView(target)) {
    const dv = types.isDataView(target);
    const buf = call(dv ? dvBuffer : taBuffer, target);
    if (types.isSharedArrayBuffer(buf)) throw sharedRefusal();
    return { ab: buf as ArrayBuffer, start: call(dv ? dvOffset : taOffset, target) as number, length: call(dv ? dvLength : taLength, target) as number };
  }
  if (types.isSharedArrayBuffer(target)) throw sharedRefusal();
  throw invalidType('buffer', 'an ArrayBuffer, a TypedArray, a DataView or a Buffer', target);
}

function sharedRefusal(): Error {
  return refuse('ERR_PAGEWISE_SHARED_MAPPING', 'discard refuses a SharedArrayBuffer: another thread may write to it while its pages are given back, and that write would be lost');
}

/**
 * @internal The whole pages inside a buffer or view: `[first, last)` (empty
 * when `last <= first`), with the ArrayBuffer and its data address. Throws
 * like {@link discard} for what is not an ArrayBuffer-backed buffer.
 */
export function bufferPages(target: unknown): { ab: ArrayBuffer; data: bigint; first: bigint; last: bigint } {
  const g = geometry(target);
  const info = native.arrayBufferInfo(g.ab);
  if (info === null) {
    throw invalidState('the ArrayBuffer is detached');
  }
  const P = BigInt(pageSize());
  const from = info[0] + BigInt(g.start);
  const to = from + BigInt(g.length < 0 ? info[1] : g.length);
  return { ab: g.ab, data: info[0], first: ((from + P - 1n) / P) * P, last: (to / P) * P };
}

/** Whether the maps entry is memory discard may zero: private, anonymous, readable and writable. */
function check(e: MapsEntry, what: string): void {
  const range = `${e.start.toString(16)}-${e.end.toString(16)} ${e.perms} ${e.pathname || '(anonymous)'}`;
  if (e.perms[3] === 's') throw refuse('ERR_PAGEWISE_SHARED_MAPPING', `discard refuses ${what}: its pages are shared memory (${range}); MADV_DONTNEED would zero what other mappings see`);
  if (e.inode !== 0 || e.pathname.startsWith('/')) throw refuse('ERR_PAGEWISE_FILE_MAPPING', `discard refuses ${what}: its pages map a file (${range}); MADV_DONTNEED would bring back the file's bytes, not zeros`);
  const anonymous = e.pathname === '' || e.pathname === '[heap]' || e.anonName !== null;
  if (!anonymous || e.perms[0] !== 'r' || e.perms[1] !== 'w') throw refuse('ERR_PAGEWISE_FOREIGN_RANGE', `discard refuses ${what}: its pages lie in ${range}, not private anonymous read-write memory`);
}

/**
 * Gives back the whole pages inside `buffer` (an ArrayBuffer, a view, a
 * Buffer, a `WebAssembly.Memory`'s buffer, a pagewise view), or inside
 * `[offset, offset + length)` of it (bytes, relative to the view; any
 * alignment): `madvise(MADV_DONTNEED)` over the page-aligned interior, so
 * those bytes read as zero afterwards and RSS drops at once. Bytes before the
 * first and after the last whole page are left alone.
 *
 * Refuses, before any change, what cannot be given back safely:
 * `ERR_PAGEWISE_BUFFER_POOL` (Node's shared Buffer pool: many Buffers' bytes),
 * `ERR_PAGEWISE_FILE_MAPPING` (file-backed pages), `ERR_PAGEWISE_SHARED_MAPPING`
 * (shared memory, a SharedArrayBuffer, a pagewise Mapping shared with other
 * threads), `ERR_PAGEWISE_FOREIGN_RANGE` (pages that are not private
 * anonymous read-write memory of this process). A detached buffer throws
 * `ERR_INVALID_STATE`; a failed `madvise` (`EINVAL` on locked pages) throws with
 * `code`, `errno` and `syscall`.
 */
export function discard(buffer: ArrayBuffer | ArrayBufferView, offset?: number, length?: number): DiscardResult {
  const g = geometry(buffer);
  const info = native.arrayBufferInfo(g.ab);
  if (info === null) {
    throw invalidState('discard: the ArrayBuffer is detached');
  }
  const [data, abLength, regionState] = info;
  const viewLength = g.length < 0 ? abLength : g.length;
  const off = offset === undefined ? 0 : checkInteger('offset', offset, 0);
  if (off > viewLength) throw outOfRange('offset', `<= the buffer's byteLength (${viewLength})`, off);
  const len = length === undefined ? viewLength - off : checkInteger('length', length, 0);
  if (len > viewLength - off) throw outOfRange('length', `<= ${viewLength - off} (the buffer's byteLength minus offset ${off})`, len);
  // Node marks its pool untransferable (Node 21+ can ask); it marks every
  // external ArrayBuffer so too, and of those only pagewise's own are known.
  const pool = regionState === 0 && (isMarkedAsUntransferable ? isMarkedAsUntransferable(g.ab) : POOL_SIZES.has(abLength) || abLength === Buffer.poolSize);
  if (pool) {
    throw refuse(
      'ERR_PAGEWISE_BUFFER_POOL',
      `discard refuses this buffer: its ArrayBuffer (${abLength} bytes) ${isMarkedAsUntransferable ? "is marked untransferable by Node, as Node's Buffer pool is (and external memory another addon owns)" : `has the size of Node's Buffer pool, which Node ${process.version} cannot tell apart`}; ` +
        `the pool holds many small Buffers' bytes. Allocate memory to give back with Buffer.allocUnsafeSlow(), new ArrayBuffer() or pagewise's mmap()`,
    );
  }
  for (const guard of guards) {
    const why = guard(buffer, g.ab);
    if (why !== null) throw refuse('ERR_PAGEWISE_FOREIGN_RANGE', `discard refuses this buffer: ${why}`);
  }
  if (regionState === 2) throw refuse('ERR_PAGEWISE_SHARED_MAPPING', "discard refuses this buffer: it is a pagewise Mapping's memory shared with other threads (share()/attach())");
  const page = pageSize();
  const P = BigInt(page);
  const from = data + BigInt(g.start + off);
  const first = ((from + P - 1n) / P) * P;
  const last = ((from + BigInt(len)) / P) * P;
  const none = { bytes: 0, residentBefore: 0, address: 0n, head: len, tail: 0, checkedBy: 'none' as const };
  if (last <= first) return none;
  for (const guard of rangeGuards) {
    const why = guard(first, last, buffer);
    if (why !== null) throw refuse('ERR_PAGEWISE_FOREIGN_RANGE', `discard refuses this buffer: ${why}`);
  }
  if (regionState === 0) {
    const held = native.regionsHeld();
    for (let i = 0; i + 1 < held.length; i += 2) {
      if (held[i]! < last && first < held[i + 1]!) throw refuse('ERR_PAGEWISE_SHARED_MAPPING', "discard refuses this buffer: its memory is held by another thread's pagewise Mapping");
    }
  }
  const what = `${Number(last - first)} bytes at 0x${first.toString(16)}`;
  const vmas = readMaps('self', { start: first, end: last });
  let at = first;
  for (const e of vmas) {
    if (e.start > at) break;
    check(e, what);
    at = e.end;
    if (at >= last) break;
  }
  if (at < last) throw refuse('ERR_PAGEWISE_FOREIGN_RANGE', `discard refuses ${what}: 0x${at.toString(16)} is not mapped in this process`);
  const bytes = Number(last - first);
  const residentBefore = native.mincoreAt(first, bytes, null) * page;
  native.madviseArrayBuffer(g.ab, Number(first - data), bytes, native.constants.MADV_DONTNEED);
  return {
    bytes,
    residentBefore,
    address: first,
    head: Number(first - from),
    tail: Number(from + BigInt(len) - last),
    checkedBy: kernelHas('procmapQuery') ? 'procmap_query' : 'maps',
  };
}
