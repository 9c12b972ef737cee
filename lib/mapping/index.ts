/**
 * `mmap()` and the `Mapping` class. The class is in ./mapping.ts, the options
 * of its methods in ./method-options.ts, what resize() checks in ./resize.ts,
 * its residency reads in ./residency.ts, sharing with other threads in
 * ./sharing.ts, option decoding (shared with `unsafe.mmapFixed`) in
 * ./map-options.ts, the sorted range lists in ./segments.ts, `mmap()` and the
 * functional forms in ./functional.ts.
 */
export { Mapping, newMapping, asMapping } from './mapping';
export type { LockOptions, SyncOptions, ResizeOptions } from './method-options';
export type { ShareToken } from '../sharing/share';
export { checkVmaName, decodeMapOptions, MMAP_OPTIONS, type MmapOptions } from './map-options';
export { mmap, vmaNamesSupported, attach, munmap, madvise, mprotect, mincore, mlock, munlock, msync } from './functional';
