/**
 * The native calls the arena makes, captured when this module loads: a
 * later change to the binding object does not reach the arena.
 * @internal
 */
import { native } from '../native';

export const {
  mmap: nMmap, munmap: nMunmap, mprotect: nMprotect, madvise: nMadvise, regionBuffer: nRegionBuffer,
  regionDetach: nRegionDetach, detachArrayBuffer: nDetach, regionRemap: nRegionRemap, regionAddress: nRegionAddress,
  prctlSetVmaAnonName: nSetName,
} = native;
export const C = native.constants as Record<string, number>;
