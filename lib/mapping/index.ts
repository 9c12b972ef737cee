/**
 * `mmap()` and the `Mapping` class. The class is in ./mapping.ts, option
 * decoding (shared with `unsafe.mmapFixed`) in ./map-options.ts, the sorted range
 * lists in ./segments.ts, `mmap()` and the functional forms in
 * ./functional.ts.
 */
export { Mapping, newMapping, asMapping, type LockOptions, type SyncOptions, type ShareToken, type ResizeOptions } from './mapping';
export { checkVmaName, decodeMapOptions, MMAP_OPTIONS, type MmapOptions } from './map-options';
export { mmap, vmaNamesSupported, attach, munmap, madvise, mprotect, mincore, mlock, munlock, msync } from './functional';
