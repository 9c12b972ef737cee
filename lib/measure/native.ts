/**
 * Types of the native functions of native/measure.cc (the loader's `Native`
 * interface leaves extra functions to the module that uses them).
 * @internal
 */
import { native, type RegionHandle } from '../native';

/** @internal */
export interface MeasureNative {
  /** Resident pages from a pread of a kept /proc/self/statm descriptor. */
  statmResident(): number;
  /** `Rss:` of /proc/self/smaps_rollup in bytes (kept descriptor, static buffer). */
  smapsRollupRss(): number;
  /** Reads /proc/self/<name> into `buf` (kept descriptor); returns bytes. */
  readProcSelf(name: 'statm' | 'smaps_rollup', buf: Uint8Array): number;
  /** Fills [present, swapped, fileOrShared, exclusive, softDirty, pfnVisible, zeroPfnPages]. */
  pagemapCount(r: RegionHandle, offset: number, length: number, out: Float64Array, zeroPfn: bigint): void;
  /** Raw pagemap entries, one per page. */
  pagemapRead(r: RegionHandle, offset: number, length: number, out: BigUint64Array): number;
  /** 0, or the errno (ENOTTY/EINVAL/EOPNOTSUPP) when the ioctl is missing; fills [present, swapped, pfnZero, file, softDirty, huge]. */
  pagemapScan(r: RegionHandle, offset: number, length: number, out: Float64Array): number;
  /** Fills [seconds, nanoseconds] of CLOCK_MONOTONIC without allocating. */
  clockMonotonic(out: Float64Array): void;
  perfFaultsOpen(): [number, number];
  perfFaultsRead(fdMinor: number, fdMajor: number, out: Float64Array): void;
}

/** @internal */
export const mnative = native as unknown as MeasureNative;
