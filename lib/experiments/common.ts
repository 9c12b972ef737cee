/**
 * Helpers shared by the experiments: exact residency of one mapping, fault
 * counts of this thread, the probe executable, and the result builder.
 * @internal
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { native } from '../native';
import { rusageRaw } from '../rusage';
import { readSmaps } from '../proc/smaps';
import { readMaps } from '../proc/maps';
import { readThp } from '../proc/thp';
import type { Mapping } from '../mapping';
import type { Experiment, ExperimentResult, ExperimentMeasurement, Series, Verdict } from './types';

const C = native.constants as Record<string, number>;

/** Minor faults of the calling thread so far (getrusage RUSAGE_THREAD). */
export function threadFaults(): number {
  return rusageRaw(C.RUSAGE_THREAD!)[0]!;
}

/** Exact resident bytes of one mapping: the smaps `Rss` of every VMA inside it (excludes the shared zero page). */
export function mappingRss(m: Mapping): number {
  const start = m.address;
  const end = m.address + BigInt(m.length);
  let rss = 0;
  for (const e of readSmaps()) if (e.start < end && e.end > start) rss += e.rss;
  return rss;
}

/** Number of VMAs (lines of /proc/self/maps) overlapping a mapping. */
export function vmaCount(m: Mapping): number {
  const start = m.address;
  const end = m.address + BigInt(m.length);
  return readMaps().filter((e) => e.start < end && e.end > start).length;
}

/** Exact RSS of this process, from `smaps_rollup` (a page-table walk). */
export function processRss(): number {
  const f = native.smapsRollupRss as (() => number) | undefined;
  if (typeof f === 'function') return f();
  const text = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
  const m = /^Rss:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** THP mode (`always`, `madvise`, `never`) or `null` without THP. */
export function thpMode(): string | null {
  try {
    return readThp().mode;
  } catch {
    return null;
  }
}

/** Nanoseconds since an arbitrary origin, as a number. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Median of numbers (NaN for none). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Writes one byte to each of `count` pages of `view`, starting at page `first`. Kept monomorphic so the JIT does not fault mid-loop. */
export function touchPages(view: Uint8Array, page: number, first: number, count: number, value = 1): void {
  const end = (first + count) * page;
  for (let off = first * page; off < end; off += page) view[off] = value;
}

/** Reads one byte of each of `count` pages; returns their sum (so the reads are not optimised away). */
export function readPages(view: Uint8Array, page: number, first: number, count: number): number {
  let sum = 0;
  const end = (first + count) * page;
  for (let off = first * page; off < end; off += page) sum += view[off]!;
  return sum;
}

/** The package's root folder (its package.json is named pagewise: the published package has no root binding.gyp), or `null`. */
export function packageRoot(): string | null {
  let dir = __dirname;
  for (;;) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'pagewise') return dir;
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

let probeCache: { path: string | null; tried: string[] } | undefined;

/**
 * Where the probe executable is: `$PAGEWISE_PROBE` when set (and only
 * there), else next to the addon
 * built by node-gyp (`build/Release/pagewise-probe`, `build/Debug/...`),
 * else `prebuilds/<platform>-<arch>/pagewise-probe`. Prebuilds made by
 * prebuildify carry only the addon: without a source build, experiments that
 * need the probe are skipped with the reason.
 */
export function probeLocation(): { path: string | null; tried: string[] } {
  if (probeCache) return probeCache;
  const tried: string[] = [];
  const candidates: string[] = [];
  const root = packageRoot();
  if (process.env.PAGEWISE_PROBE) candidates.push(process.env.PAGEWISE_PROBE);
  else if (root) {
    candidates.push(path.join(root, 'build', 'Release', 'pagewise-probe'));
    candidates.push(path.join(root, 'build', 'Debug', 'pagewise-probe'));
    candidates.push(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'pagewise-probe'));
  }
  for (const c of candidates) {
    tried.push(c);
    try {
      fs.accessSync(c, fs.constants.X_OK);
      probeCache = { path: c, tried };
      return probeCache;
    } catch {
      // next
    }
  }
  probeCache = { path: null, tried };
  return probeCache;
}

/** Why the probe cannot run, or `null` when it can. */
export function probeMissing(): string | null {
  const loc = probeLocation();
  if (loc.path) return null;
  const root = packageRoot();
  return `probe not built (looked in ${loc.tried.join(', ') || 'no package root'}); build it with: cd ${root ?? '<pagewise>'} && npx node-gyp rebuild`;
}

/** Result of one probe run. */
export interface ProbeRun<T> {
  json: T | null;
  signal: NodeJS.Signals | null;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `pagewise-probe <args>`; with `ulimit` set, through
 * `sh -c 'ulimit <ulimit>; exec probe ...'` so the limit applies to that
 * child only. Parses the first JSON line of stdout.
 */
export function runProbe<T>(args: string[], options: { ulimit?: string; timeoutMs?: number } = {}): ProbeRun<T> {
  const probe = probeLocation().path;
  if (!probe) throw new Error(probeMissing() ?? 'probe not built');
  const r = options.ulimit
    ? spawnSync('/bin/sh', ['-c', `ulimit ${options.ulimit} && exec "$0" "$@"`, probe, ...args], {
        encoding: 'utf8',
        timeout: options.timeoutMs ?? 30_000,
      })
    : spawnSync(probe, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 30_000 });
  if (r.error) throw r.error;
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  let json: T | null = null;
  if (line) {
    try {
      json = JSON.parse(line) as T;
    } catch {
      json = null;
    }
  }
  return { json, signal: r.signal, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the probe and requires JSON and exit status 0. */
export function probeJson<T>(args: string[], options: { ulimit?: string } = {}): T {
  const r = runProbe<T>(args, options);
  if (r.status !== 0 || r.json === null) {
    throw new Error(`pagewise-probe ${args.join(' ')} failed (status ${r.status}, signal ${r.signal}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.json;
}

/** Builder for a measurement. */
export function m(name: string, value: ExperimentMeasurement['value'], unit: string, source: string): ExperimentMeasurement {
  return { name, value, unit, source };
}

/** What an experiment's body returns; the runner adds the metadata. */
export interface Outcome {
  measurements: ExperimentMeasurement[];
  verdict: Verdict;
  condition?: string;
  notes: string;
  key: string[];
  series?: Series[];
  skipped?: string;
}

/** Wraps a body into an {@link Experiment}: timing, THP mode, metadata. */
export function defineExperiment(meta: Omit<Experiment, 'run'>, body: () => Outcome): Experiment {
  return {
    ...meta,
    run(): ExperimentResult {
      const t0 = Date.now();
      const out = body();
      const result: ExperimentResult = {
        id: meta.id,
        number: meta.number,
        title: meta.title,
        question: meta.question,
        claim: meta.claim,
        measurements: out.measurements,
        verdict: out.verdict,
        notes: out.notes,
        key: out.key,
        durationMs: Date.now() - t0,
        thpMode: thpMode(),
      };
      if (out.condition !== undefined) result.condition = out.condition;
      if (out.series !== undefined) result.series = out.series;
      if (out.skipped !== undefined) result.skipped = out.skipped;
      return result;
    },
  };
}

/** The outcome of an experiment that cannot run here. */
export function skippedOutcome(reason: string): Outcome {
  return {
    measurements: [],
    verdict: 'depends',
    condition: `not measured: ${reason}`,
    notes: 'Skipped: nothing was measured, so no verdict is claimed.',
    key: [],
    skipped: reason,
  };
}

const MiB = 1024 * 1024;
/** Human-readable bytes. */
export function fmtBytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(1)} GiB`;
  if (a >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (a >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}
