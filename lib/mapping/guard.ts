/**
 * The system-call steps of `Mapping.guard()`/`unguard()` and the rule that
 * decides how a mapping's bytes are given back (`resize()`, `unmap()`): kept
 * apart from the Mapping class, which owns the state they update.
 */
import { native, type RegionHandle } from '../native/binding';
import { checkGuardable } from '../sharing/share';
import type { Segment } from './segments';

/**
 * Installs guard pages over `[off, off + n)` of the region (`MADV_GUARD_INSTALL`)
 * after detaching every buffer over it, and calls `record()` once the range may
 * hold guards. madvise works VMA by VMA: a failure part-way (EPERM at a sealed
 * read-only VMA after a writable one) leaves guards installed before it, so the
 * whole range is recorded then too (no view is made over a page that may be one;
 * unguard() recovers). A refusal before the system call (ERR_INVALID_STATE)
 * changed nothing and records nothing.
 */
export function installGuards(region: RegionHandle, off: number, n: number, detached: () => void, record: () => void): void {
  checkGuardable(region, off, n);
  native.regionDetach(region, off, n);
  detached();
  try {
    native.madvise(region, off, n, native.uapiConstants.MADV_GUARD_INSTALL);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_INVALID_STATE') record();
    throw err;
  }
  record();
}

/** Removes guard pages over `[off, off + n)` (`MADV_GUARD_REMOVE`); they read back as zeros. */
export function removeGuards(region: RegionHandle, off: number, n: number): void {
  native.madvise(region, off, n, native.uapiConstants.MADV_GUARD_REMOVE);
}

/**
 * Whether the bytes given back by `resize()`/`unmap()` can be emptied with
 * `MADV_DONTNEED` (private anonymous read-write memory, one segment, no guard
 * pages: `MADV_DONTNEED` keeps guard markers, so a mapping with guards is
 * replaced instead).
 */
export function dontneedGivesBack(kind: { file: boolean; shared: boolean; hugePages: boolean }, segments: readonly Segment[], guards: readonly Segment[]): boolean {
  return !kind.file && !kind.shared && !kind.hugePages && segments.length === 1 && segments[0]!.prot === 'rw' && guards.length === 0;
}
