/**
 * The options of `Mapping.lock`, `Mapping.sync` and `Mapping.resize`, and the
 * decoding of the first two into what the kernel is asked for.
 */
import { native } from '../native/binding';
import { checkBoolean, checkOptions } from '../validate';

const C = native.constants;

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

/** Options of {@link Mapping.resize}. */
export interface ResizeOptions {
  /** Move the mapping when it cannot grow in place (its address changes; every buffer over it is detached). */
  mayMove?: boolean;
  /** For a file mapping: a descriptor of the file, to check it is long enough (default: the one it was mapped with, if still open). */
  fd?: number;
}

/** lock()'s options, checked: whether to lock on fault (`MLOCK_ONFAULT`). */
export function decodeLockOptions(options: LockOptions | undefined): boolean {
  const o = checkOptions<LockOptions>('options', options, ['onFault']);
  return o.onFault === undefined ? false : checkBoolean('options.onFault', o.onFault);
}

/** sync()'s options, checked: the `msync` flags. */
export function decodeSyncOptions(options: SyncOptions | undefined): number {
  const o = checkOptions<SyncOptions>('options', options, ['async', 'invalidate']);
  const async = o.async === undefined ? false : checkBoolean('options.async', o.async);
  const inval = o.invalidate === undefined ? false : checkBoolean('options.invalidate', o.invalidate);
  return (async ? C.MS_ASYNC : C.MS_SYNC) | (inval ? C.MS_INVALIDATE : 0);
}
