/**
 * A mapping's memory as other threads reach it: the token `Mapping.share`
 * makes for `attach()`, the error where Node cannot make a SharedArrayBuffer
 * over it, the refusal of guard pages over memory another thread can reach,
 * and the record a worker makes as it exits of the buffers that escaped it.
 */
import { isMainThread } from 'node:worker_threads';
import { native, type RegionHandle } from '../native/binding';
import { checkInteger, checkObject } from '../validate';
import { invalidState, invalidType, invalidValue, featureUnavailable, outOfRange } from '../errors';
import { maxArrayBufferLength } from '../kernel/system';

// A worker's last JS ('exit') records which of its buffers escaped to another
// thread (transfer() + postMessage), so that tearing the worker down keeps
// exactly that memory mapped (native/region.cc, BufferFinalize). A worker
// stopped by terminate() never gets here: then every mapping with a buffer
// still alive is kept, zero-filled (docs/reliability.md).
if (!isMainThread) process.on('exit', () => native.regionsSampleEscapes());

/** What {@link Mapping.share} returns: post it to a worker and {@link attach} it there. */
export interface ShareToken {
  readonly pagewiseShare: 1;
  /** A random id of the memory in this process's registry of shared mappings. */
  readonly id: bigint;
  readonly length: number;
  readonly pageSize: number;
  readonly kind: { readonly file: boolean; readonly shared: boolean; readonly noReserve: boolean; readonly hugePages: boolean };
  /** The process that made it: a token is valid in that process only. */
  readonly pid: number;
}

type Kind = ShareToken['kind'];

/** The kind as the bits the native registry keeps (checked by attach()). */
export function kindBits(k: Kind): number {
  return (k.file ? 1 : 0) | (k.shared ? 2 : 0) | (k.noReserve ? 4 : 0) | (k.hugePages ? 8 : 0);
}

/**
 * The fields of a token, checked before the native registry compares them
 * with its entry: a token is data anyone can build, so nothing in it is
 * trusted (the registry is the truth).
 */
export function checkToken(token: unknown): { id: bigint; length: number; pageSize: number; kind: Kind } {
  const t = checkObject<Partial<ShareToken>>('token', token);
  const k = t.kind;
  if (t.pagewiseShare !== 1 || typeof t.id !== 'bigint' || typeof k !== 'object' || k === null) {
    throw invalidType('token', 'a token made by mapping.share()', token);
  }
  if (t.id <= 0n || t.id >= 1n << 62n) throw invalidValue('token.id', 'is not an id mapping.share() makes', t.id);
  const length = checkInteger('token.length', t.length, 1);
  const pageSize = checkInteger('token.pageSize', t.pageSize, 1);
  if (t.pid !== process.pid) {
    throw invalidValue('token.pid', `was made in another process (a token is valid only in the process that made it, ${process.pid}; share memory with other processes through memfd())`, t.pid);
  }
  const kind = { file: k.file === true, shared: k.shared === true, noReserve: k.noReserve === true, hugePages: k.hugePages === true };
  return { id: t.id, length, pageSize, kind };
}

/** What `Mapping.sharedBuffer` throws where Node-API cannot make a SharedArrayBuffer over external memory. */
export function sharedBufferUnavailable(): Error {
  return featureUnavailable(
    `A SharedArrayBuffer over external memory needs node_api_create_external_sharedarraybuffer, which Node ${process.version} lacks (Node 22.23, 24.22 and 26.12 have it): use share() and attach(), or Atomics on a SharedArrayBuffer of your own`,
  );
}

/**
 * The token of `Mapping.share()` for a region of `length` bytes, after its checks:
 * read-write throughout (`readWrite`) and without guard pages (`guarded`).
 */
export function shareRegion(region: RegionHandle, kind: Kind, page: number, length: number, readWrite: boolean, guarded: boolean): ShareToken {
  if (!readWrite) throw invalidState("Only a mapping that is read-write throughout can be shared (protect it 'rw' first)");
  if (guarded) throw invalidState('Only a mapping without guard pages can be shared (unguard() it first): the views of other threads would fault');
  const id = native.regionShare(region, kindBits(kind), page);
  return Object.freeze({ pagewiseShare: 1 as const, id, length, pageSize: page, kind, pid: process.pid });
}

/** The SharedArrayBuffer of `Mapping.sharedBuffer` over a region of `length` bytes, read-write throughout (`readWrite`). */
export function sharedBufferOver(region: RegionHandle, length: number, readWrite: boolean): SharedArrayBuffer {
  if (!native.sharedBufferSupported()) throw sharedBufferUnavailable();
  if (!readWrite) throw invalidState("A SharedArrayBuffer needs a mapping that is read-write throughout (protect it 'rw' first)");
  const max = maxArrayBufferLength();
  if (length > max) throw outOfRange('length', `<= ${max} bytes for one SharedArrayBuffer on Node ${process.version}`, length);
  return native.regionSharedBuffer(region)!;
}

/**
 * Refuses guard pages over [off, off + n) where another thread could touch
 * them: memory another thread shares, or a range an escaped buffer covers.
 */
export function checkGuardable(region: RegionHandle, off: number, n: number): void {
  if (native.regionSharedRefs(region) > 1) throw invalidState('Guard pages cannot be installed in memory another thread shares: its views would fault');
  const escaped = native.regionEscaped(region, off, n);
  if (escaped === 2) {
    throw invalidState(
      'Guard pages cannot be installed here yet: a view of the range was garbage-collected and the release of its memory is still queued, so pagewise cannot tell it from one transfer() moved; the release runs on a later turn of the event loop (retry after `await new Promise(setImmediate)`), or keep the view alive until this call',
    );
  }
  if (escaped === 1) {
    throw invalidState('Guard pages cannot be installed where an ArrayBuffer over the range escaped pagewise (transfer()): a JS access through it would kill the process');
  }
}
