/**
 * The benchmark scripts' command lines (scripts/script-args.js over
 * node:util parseArgs): a bad value or an unknown flag stops the script
 * before it measures anything, with one line on stderr and exit status 2.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers/child';

function script(name: string, args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', name), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 }); // a hang guard
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('benchmark scripts refuse a bad command line before measuring', () => {
  it.each([
    ['bench-doc.js', ['--runs', '0'], 'bench:doc: --runs must be a whole number >= 1, not "0"'],
    ['bench-doc.js', ['--handles-rounds', '2.5'], 'bench:doc: --handles-rounds must be a whole number >= 1, not "2.5"'],
    ['bench-doc.js', ['--bogus'], "bench:doc: Unknown option '--bogus'"],
    ['bench-limits.js', ['--runs', 'many'], 'bench-limits: --runs must be a whole number >= 1, not "many"'],
  ])('%s %j', (name, args, message) => {
    const r = script(name, args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(message);
    expect(r.stdout).toBe('');
  });
});
