/** The list of experiments, lookup by id or number, and a runner. */
import { invalidValue } from '../validate';
import type { Experiment, ExperimentResult } from './types';
import { zeroFill } from './zero-fill';
import { dontneedVsMunmap } from './dontneed';
import { noreserveOvercommit } from './overcommit';
import { mallocBrk } from './malloc';
import { heapHoles } from './heap-holes';
import { exitRecovery } from './exit-recovery';
import { cowFork } from './cow';
import { kernelMemory } from './kernel-memory';
import { rlimitData } from './rlimit-data';
import { prefault } from './prefault';

/** Every experiment, in the order of the design's questions. */
export const experiments: readonly Experiment[] = Object.freeze([
  zeroFill, dontneedVsMunmap, noreserveOvercommit, mallocBrk, heapHoles,
  exitRecovery, cowFork, kernelMemory, rlimitData, prefault,
]);

/**
 * The experiments named by id (`'cow-fork'`) or number (`'7'`), in the
 * registry's order; all of them for an empty list. Unknown names throw a
 * TypeError listing the known ones.
 */
export function findExperiments(names: readonly string[] = []): Experiment[] {
  if (names.length === 0) return [...experiments];
  const wanted = new Set<Experiment>();
  for (const name of names) {
    const e = experiments.find((x) => x.id === name || String(x.number) === name);
    if (!e) throw invalidValue('only', `must name experiments by id or number (${experiments.map((x) => `${x.number} ${x.id}`).join(', ')})`, name);
    wanted.add(e);
  }
  return experiments.filter((e) => wanted.has(e));
}

/**
 * Runs experiments one after another (by id or number; all by default).
 * `onProgress` is called before each one starts.
 */
export function runExperiments(names: readonly string[] = [], onProgress?: (e: Experiment, index: number, total: number) => void): ExperimentResult[] {
  const list = findExperiments(names);
  return list.map((e, i) => {
    onProgress?.(e, i, list.length);
    return e.run();
  });
}
