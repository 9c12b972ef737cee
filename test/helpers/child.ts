/**
 * Runs a snippet of JS in a child Node process that has loaded the compiled
 * package (dist/, built by `npm test`'s pretest), optionally under shell
 * resource limits (`ulimit` flags). Used for paths that must crash or that
 * need limits we must not impose on the test runner.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const DIST = path.join(ROOT, 'dist', 'lib', 'index.js');
/** A hang guard for child processes, not a time limit: a loaded machine is a slow run, never a failure. */
export const HANG_GUARD_MS = 30 * 60_000;

/**
 * `npm test` compiles first (pretest); a test file run alone compiles dist
 * when it is older than the CLI's sources (lib/cli.ts, lib/cli/, lib/experiments/),
 * so that the spawned `node dist/lib/cli.js` runs the code under test.
 */
export function compileCliIfStale(): void {
  const mine = ['lib/cli.ts', ...fs.readdirSync(path.join(ROOT, 'lib/cli')).map((f) => `lib/cli/${f}`), ...fs.readdirSync(path.join(ROOT, 'lib/experiments')).map((f) => `lib/experiments/${f}`)];
  const stale = mine.some((f) => {
    const out = path.join(ROOT, 'dist', f.replace(/\.ts$/, '.js'));
    return !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(path.join(ROOT, f)).mtimeMs;
  });
  if (!stale) return;
  try {
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // Type errors elsewhere still emit JavaScript; the runs that follow tell if it works.
  }
}

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `code` runs with `pw` bound to the package. `ulimit` is a list of shell
 * ulimit arguments such as ['-v', '1048576'] (KiB) applied before exec.
 */
export function runChild(code: string, options: { ulimit?: string[]; nodeArgs?: string[]; timeoutMs?: number } = {}): ChildResult {
  const script = `const pw = require(${JSON.stringify(DIST)});\n${code}`;
  const nodeArgs = [...(options.nodeArgs ?? []), '-e', script];
  let cmd = process.execPath;
  let args = nodeArgs;
  if (options.ulimit && options.ulimit.length) {
    cmd = '/bin/sh';
    args = ['-c', `ulimit ${options.ulimit.join(' ')} && exec "$0" "$@"`, process.execPath, ...nodeArgs];
  }
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: options.timeoutMs ?? HANG_GUARD_MS, env: { ...process.env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
