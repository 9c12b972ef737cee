/**
 * `pagewise/experiments`: every classic question about Linux memory as a
 * function that runs on real memory and returns a structured result. This
 * file only re-exports.
 */
export { experiments, runExperiments, findExperiments } from './registry';
export { zeroFill } from './zero-fill';
export { dontneedVsMunmap } from './dontneed';
export { noreserveOvercommit } from './noreserve-overcommit';
export { mallocBrk } from './malloc';
export { heapHoles } from './heap-holes';
export { exitRecovery } from './exit-recovery';
export { cowFork } from './cow';
export { kernelMemory } from './kernel-memory';
export { guardPages } from './guard-pages';
export { batchedMadvise } from './batched-madvise';
export { rlimitData } from './rlimit-data';
export { prefault } from './prefault';
export { wasmDiscard } from './wasm-discard';
export { resizableShrink } from './resizable-shrink';
export { trimMallocExperiment } from './trim-malloc';
export { thpModes } from './thp-modes';
export { rssSources } from './rss-sources';
export { probeLocation, probeMissing } from './probe';
export type { Experiment, ExperimentResult, ExperimentMeasurement, Series, Verdict } from './experiment';
