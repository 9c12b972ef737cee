/** The list of experiments, lookup by id or number, and a runner. */
import { invalidType, invalidValue } from '../errors';
import type { Experiment, ExperimentResult } from './experiment';
import { zeroFill } from './zero-fill';
import { dontneedVsMunmap } from './dontneed';
import { noreserveOvercommit } from './noreserve-overcommit';
import { mallocBrk } from './malloc';
import { heapHoles } from './heap-holes';
import { exitRecovery } from './exit-recovery';
import { cowFork } from './cow';
import { kernelMemory } from './kernel-memory';
import { rlimitData } from './rlimit-data';
import { prefault } from './prefault';
import { guardPages } from './guard-pages';
import { batchedMadvise } from './batched-madvise';
import { wasmDiscard } from './wasm-discard';
import { resizableShrink } from './resizable-shrink';
import { trimMallocExperiment } from './trim-malloc';
import { thpModes } from './thp-modes';
import { rssSources } from './rss-sources';

/** Every experiment, in the order of the design's questions. */
export const experiments: readonly Experiment[] = Object.freeze([
  zeroFill, dontneedVsMunmap, noreserveOvercommit, mallocBrk, heapHoles,
  exitRecovery, cowFork, kernelMemory, rlimitData, prefault,
  guardPages, batchedMadvise, wasmDiscard, resizableShrink, trimMallocExperiment,
  thpModes, rssSources,
]);

/**
 * One name (`'zero-fill'`, `'7'`) or an array of names. A string is one name,
 * never iterated character by character; anything else is a TypeError.
 */
function namesOf(names: unknown): readonly string[] {
  if (typeof names === 'string') return [names];
  if (!Array.isArray(names)) throw invalidType('names', 'a string or an array of strings (experiment ids or numbers)', names);
  names.forEach((n, i) => {
    if (typeof n !== 'string') throw invalidType(`names[${i}]`, 'of type string (an experiment id or number)', n);
  });
  return names as readonly string[];
}

/**
 * The experiments named by id (`'cow-fork'`) or number (`'7'`), in the
 * registry's order; all of them for an empty list. One name may be given as
 * a string. Unknown names throw a TypeError listing the known ones.
 */
export function findExperiments(names: string | readonly string[] = []): Experiment[] {
  const list = namesOf(names);
  if (list.length === 0) return [...experiments];
  const wanted = new Set<Experiment>();
  for (const name of list) {
    const e = experiments.find((x) => x.id === name || String(x.number) === name);
    if (!e) throw invalidValue('only', `must name experiments by id or number (${experiments.map((x) => `${x.number} ${x.id}`).join(', ')})`, name);
    wanted.add(e);
  }
  return experiments.filter((e) => wanted.has(e));
}

/**
 * Runs experiments one after another (by id or number, one name as a
 * string or several in an array; all by default).
 * `onProgress` is called before each one starts.
 */
export function runExperiments(names: string | readonly string[] = [], onProgress?: (e: Experiment, index: number, total: number) => void): ExperimentResult[] {
  const list = findExperiments(names);
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalidType('onProgress', 'of type function', onProgress);
  return list.map((e, i) => {
    onProgress?.(e, i, list.length);
    return e.run();
  });
}
