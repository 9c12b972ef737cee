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
export { ProcParseError } from './proc/parse';
export { parseStatus, readStatus } from './proc/status';
export type { Status } from './proc/status';
export { parseStatm, readStatm } from './proc/statm';
export type { Statm } from './proc/statm';
export { parseStat, readStat } from './proc/stat';
export type { Stat } from './proc/stat';
export { parseMaps, readMaps, findMapping } from './proc/maps';
export type { MapsEntry } from './proc/maps';
export { parseSmaps, readSmaps } from './proc/smaps';
export type { SmapsEntry } from './proc/smaps';
export { parseSmapsRollup, readSmapsRollup } from './proc/smaps-rollup';
export type { SmapsRollup } from './proc/smaps-rollup';
export { parseMeminfo, readMeminfo } from './proc/meminfo';
export type { Meminfo } from './proc/meminfo';
export { parseVmstat, readVmstat } from './proc/vmstat';
export type { Vmstat } from './proc/vmstat';
export { parseThp, readThp, parseSelection } from './proc/thp';
export type { Thp, ThpFiles } from './proc/thp';
export { parseOvercommit, readOvercommit } from './proc/overcommit';
export type { Overcommit, OvercommitFiles } from './proc/overcommit';
export { rss } from './measure/rss';
export type { Rss, RssOptions } from './measure/rss';
export { residency, residencyOfRange } from './measure/residency';
export type { Residency, ResidencyOptions, ResidencySource } from './measure/residency';
export { faults } from './measure/faults';
export type { Faults, FaultsOptions } from './measure/faults';
export { measure, measureSync } from './measure/measure';
export type { Measurement, MeasureOptions, ResidencyDelta } from './measure/measure';
export { zeroPageBehaviour } from './measure/zeropage';
export type { ZeroPageBehaviour } from './measure/zeropage';
export { explain } from './explain';
export type { ExplainOptions, ExplainSnapshot, ExplainCategory, ExplainBreakdown, ExplainTotals, ExplainVma, ExplainVerdict, ExplainSample, WatchOptions, RuntimeStats } from './explain';
