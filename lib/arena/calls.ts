/**
 * The native calls the arena makes, captured when this module loads: a
 * later change to the binding object does not reach the arena.
 * @internal
 */
import { native } from '../native/binding';

export const {
  mmap: nMmap, munmap: nMunmap, mprotect: nMprotect, madvise: nMadvise, regionBuffer: nRegionBuffer,
  regionDetach: nRegionDetach, detachArrayBuffer: nDetach, regionRemap: nRegionRemap, regionAddress: nRegionAddress,
  prctlSetVmaAnonName: nSetName, regionEscaped: nRegionEscaped,
} = native;
export const C = native.constants;
/** `MADV_GUARD_INSTALL` and `MADV_GUARD_REMOVE` (Linux 6.13), for `guardPages`. */
export const MADV_GUARD_INSTALL = native.uapiConstants.MADV_GUARD_INSTALL;
export const MADV_GUARD_REMOVE = native.uapiConstants.MADV_GUARD_REMOVE;
