/**
 * The arena allocator. This file only re-exports.
 */
export { Arena, LARGE_BLOCK_BYTES } from './arena';
export type { ArenaOptions, ArenaResetOptions, ArenaStats, ArenaStatsOptions } from './arena';
