/**
 * pagewise's own memory is in one category however explain sees the
 * process (issue 25): 'pagewise' in process (the addon's list of held
 * ranges) and for a child started with the agent (the agent reports the
 * list), while a file pagewise maps stays under mapped files.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { DIST, ROOT } from './helpers/child';
import { explain, type ExplainSample, type ExplainSnapshot } from '../lib/index';

const MiB = 1 << 20;
const PROG = path.join(ROOT, 'test', 'fixtures', 'explain', 'pagewise-user.js');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli.js');

function check(s: ExplainSnapshot): void {
  const rss = (id: string): number => s.categories.find((c) => c.id === id)?.rss ?? 0;
  // All 24 MiB written are pagewise's; the 4 MiB file read is a mapped file, not pagewise's.
  expect(rss('pagewise')).toBeGreaterThanOrEqual(24 * MiB);
  expect(rss('pagewise')).toBeLessThan(28 * MiB);
  expect(rss('mapped-files')).toBeGreaterThanOrEqual(4 * MiB);
}

describe('pagewise\'s memory in one category', () => {
  it('in process: pagewise; the file it maps under mapped files', () => {
    const r = spawnSync(process.execPath, ['-e', `
      require(${JSON.stringify(PROG)});
      setImmediate(() => { const s = require(process.env.PAGEWISE_DIST).explain(); console.log(JSON.stringify(s, (k, v) => typeof v === 'bigint' ? String(v) : v)); process.exit(0); });
    `, '1'], { encoding: 'utf8', env: { ...process.env, PAGEWISE_DIST: DIST } });
    expect(r.stderr).toBe('');
    check(JSON.parse(r.stdout.split('\n')[1]!) as ExplainSnapshot);
  });

  it('a child started by `explain -- node prog`: pagewise too (from the agent)', () => {
    const r = spawnSync(process.execPath, [CLI, 'explain', '--json', '--watch', '0.2', '--', process.execPath, PROG, '1500'], {
      encoding: 'utf8', cwd: ROOT, env: { ...process.env, PAGEWISE_DIST: DIST },
    });
    expect(r.status).toBe(0);
    const samples = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as ExplainSample);
    // Samples after the program said ready and the agent reported since, and before its
    // teardown (after the exit event the addon's cleanup unmaps its memory: a sample taken
    // then, marked teardown, reads none, as a slow machine showed).
    const after = samples.filter((s) => s.runtime !== null && (s.runtime.pagewiseRanges ?? []).length > 0 && s.teardown !== true);
    expect(after.length).toBeGreaterThan(0);
    check(after[after.length - 1]!);
  });

  it('explain --pid of the same program: the pagewise memory is anonymous memory (no list to read from outside; named mappings excepted)', async () => {
    const child = spawn(process.execPath, [PROG], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PAGEWISE_DIST: DIST } });
    try {
      await new Promise((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve));
      const s = explain({ pid: child.pid! });
      expect(s.categories.find((c) => c.id === 'mapped-files')!.rss).toBeGreaterThanOrEqual(4 * MiB);
      expect(s.categories.find((c) => c.id === 'pagewise')).toBeUndefined();
      const anon = s.categories.find((c) => c.id === 'anonymous')!;
      expect(anon.rss).toBeGreaterThanOrEqual(24 * MiB);
      expect(anon.note).toMatch(/pagewise.node is loaded/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
