/**
 * Types of the C baseline loops in native/cbench.cc. Each returns the total
 * nanoseconds of its loop, timed with CLOCK_MONOTONIC in C around the loop
 * only. `cbenchLastValue()` returns what the last loop computed.
 * @internal
 */
import { native, type RegionHandle } from '../native';

/** @internal */
export interface CBench {
  cbenchMadvise(r: RegionHandle, offset: number, length: number, advice: number, iterations: number): number;
  cbenchMprotect(r: RegionHandle, offset: number, length: number, protA: number, protB: number, iterations: number): number;
  cbenchMincore(r: RegionHandle, offset: number, length: number, iterations: number): number;
  cbenchMmapMunmap(length: number, iterations: number, touch: number): number;
  cbenchMmapPopulate(length: number): number;
  cbenchTouch(r: RegionHandle, offset: number, length: number, stride: number): number;
  cbenchMemset(r: RegionHandle, offset: number, length: number, byte: number): number;
  cbenchGetrusage(who: number, iterations: number): number;
  /** kind: 0 statm, 1 smaps_rollup/status, 2 stat. */
  cbenchProcRead(path: string, iterations: number, keepFd: number, kind: number): number;
  cbenchPagemap(r: RegionHandle, offset: number, length: number, iterations: number): number;
  /** full: 1 asks for the same categories as residency(). */
  cbenchPagemapScan(r: RegionHandle, offset: number, length: number, iterations: number, full: number): number;
  cbenchMallocFree(size: number, iterations: number): number;
  cbenchNow(): number;
  cbenchLastValue(): number;
}

/** @internal */
export const cbench = native as unknown as CBench;

/** @internal The platform's constants. */
export const C = native.constants as Record<string, number>;
