/**
 * The arena allocator. This file only re-exports.
 */
export { Arena, LARGE_BLOCK_BYTES } from './arena';
export type { ArenaOptions, ArenaResetOptions, ArenaStats, ArenaStatsOptions } from './arena';
export { SharedArena } from './shared';
export type { SharedArenaOptions, SharedArenaStats, SharedArenaToken } from './shared';
