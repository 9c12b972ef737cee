/**
 * pagewise: real Linux memory system calls for Node.js.
 * This file only re-exports.
 */
export { mmap, Mapping, vmaNamesSupported, munmap, madvise, mprotect, mincore, mlock, munlock, msync } from './mapping';
export type { MmapOptions, LockOptions, SyncOptions } from './mapping';
export { adviceSupported, adviceNames, ADVICE, constants } from './flags';
export type { Advice, Prot } from './flags';
export { pageSize, hugePageSize, hugetlbPools, maxArrayBufferLength } from './system';
export { programBreak } from './brk';
export { getrusage } from './rusage';
export type { Rusage, RusageWho } from './rusage';
export * as unsafe from './unsafe';
export { Arena, LARGE_BLOCK_BYTES } from './arena';
export type { ArenaOptions, ArenaResetOptions, ArenaStats } from './arena';
