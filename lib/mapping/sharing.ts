/**
 * A mapping's memory as other threads reach it: the token `Mapping.share`
 * makes for `attach()`, the error where Node cannot make a SharedArrayBuffer
 * over it, the refusal of guard pages over memory another thread can reach,
 * and the record a worker makes as it exits of the buffers that escaped it.
 */
import { isMainThread } from 'node:worker_threads';
import { native, type RegionHandle } from '../native';
import { invalidState } from '../validate';

// A worker's last JS ('exit') records which of its buffers escaped to another
// thread (transfer() + postMessage), so that tearing the worker down keeps
// exactly that memory mapped (native/region.cc, BufferFinalize). A worker
// stopped by terminate() never gets here: then every mapping with a buffer
// still alive is kept, zero-filled (docs/reliability.md).
if (!isMainThread) process.on('exit', () => native.regionsSampleEscapes());

/** What {@link Mapping.share} returns: post it to a worker and {@link attach} it there. */
export interface ShareToken {
  readonly pagewiseShare: 1;
  readonly id: bigint;
  readonly length: number;
  readonly pageSize: number;
  readonly kind: { readonly file: boolean; readonly shared: boolean; readonly noReserve: boolean; readonly hugePages: boolean };
}

/** What `Mapping.sharedBuffer` throws where Node-API cannot make a SharedArrayBuffer over external memory. */
export function sharedBufferUnavailable(): Error {
  const e = new Error(
    `A SharedArrayBuffer over external memory needs node_api_create_external_sharedarraybuffer, which Node ${process.version} lacks (Node 22.23, 24.22 and 26.12 have it): use share() and attach(), or Atomics on a SharedArrayBuffer of your own`,
  ) as Error & { code: string };
  e.code = 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM';
  return e;
}

/**
 * Refuses guard pages over [off, off + n) where another thread could touch
 * them: memory another thread shares, or a range an escaped buffer covers.
 */
export function checkGuardable(region: RegionHandle, off: number, n: number): void {
  if (native.regionSharedRefs(region) > 1) throw invalidState('Guard pages cannot be installed in memory another thread shares: its views would fault');
  if (native.regionEscaped(region, off, n)) {
    throw invalidState('Guard pages cannot be installed where an ArrayBuffer over the range escaped pagewise (transfer()): a JS access through it would kill the process');
  }
}
