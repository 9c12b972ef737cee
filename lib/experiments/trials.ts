/**
 * Repeated, interleaved trials and the verdict they support: a
 * verdict is a statistical claim, so each experiment here runs its arms in
 * turn (A, B, A, B, ...), reports the median and the range [min, max] of
 * the per-trial figure, and calls the claim only when the whole range lies on
 * one side of the threshold: "inconclusive" when it spans it.
 * @internal
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../native/package-root';
import { median } from './common';

/** The median and the range of a figure over trials. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** `'above'` when every trial is above `threshold`, `'below'` when every one is below, `'inconclusive'` otherwise. */
export function side(s: Spread, threshold: number): 'above' | 'below' | 'inconclusive' {
  if (s.min > threshold) return 'above';
  if (s.max < threshold) return 'below';
  return 'inconclusive';
}

/** `median [min, max] (n trials)` with a formatter. */
export function showSpread(s: Spread, fmt: (v: number) => string): string {
  return `${fmt(s.median)} [${fmt(s.min)}, ${fmt(s.max)}] over ${s.n} trials`;
}

/**
 * Runs `code` in a fresh Node process with `pw` bound to this package and
 * returns the JSON of its last stdout line (`nodeArgs` before `-e`).
 */
export function nodeChild<T>(code: string, nodeArgs: string[] = []): T {
  // Compiled: dist/lib/index.js beside this file; run from source (the tests): the package's dist.
  let index = path.join(__dirname, '..', 'index.js');
  if (!fs.existsSync(index)) index = path.join(packageRoot() ?? path.join(__dirname, '..', '..'), 'dist', 'lib', 'index.js');
  const r = spawnSync(process.execPath, [...nodeArgs, '-e', `const pw = require(${JSON.stringify(index)});\n${code}`], { encoding: 'utf8', timeout: 10 * 60_000 });
  if (r.status !== 0) throw new Error(`experiment child failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}
