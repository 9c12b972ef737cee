/**
 * The probe executable (`pagewise-probe`, native/probe_exe.c): where it is,
 * why it is missing, and running it in a child process.
 * @internal
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { packageRoot } from '../native/package-root';

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
