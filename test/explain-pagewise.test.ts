/**
 * pagewise's own memory is in one category however explain sees the
 * process (issue 25): 'pagewise' in process (the addon's list of held
 * ranges) and for a child started with the agent (the agent reports the
 * list), and from outside (`--pid`) by the name pagewise gives its
 * anonymous mappings by default, while a file pagewise maps stays under
 * mapped files.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { DIST, ROOT } from './helpers/child';
import { explain, readMaps, vmaNamesSupported, type ExplainSample, type ExplainSnapshot } from '../lib/index';

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

  it('explain --pid of the same program: its memory named [anon:pagewise] by default is in the pagewise category, exactly', async () => {
    const child = spawn(process.execPath, [PROG], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PAGEWISE_DIST: DIST } });
    try {
      const line = await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve));
      const [, , , , resident, label, address] = line.split(' ');
      const s = explain({ pid: child.pid! });
      expect(s.categories.find((c) => c.id === 'mapped-files')!.rss).toBeGreaterThanOrEqual(4 * MiB);
      // The mapping holding the region's start: unnamed, the kernel may merge it with a neighbour (ASan's, under the sanitizer).
      const at = BigInt(address!);
      const inMaps = readMaps(child.pid!).find((e) => e.start <= at && at < e.end)!;
      expect(inMaps).toBeDefined();
      if (!vmaNamesSupported()) {
        console.log('default-name assertion skipped: this kernel cannot name anonymous memory (PR_SET_VMA_ANON_NAME needs Linux 5.17+ with CONFIG_ANON_VMA_NAME)');
        expect(label).toBe('-');
        expect(inMaps.anonName).toBeNull();
        expect(s.categories.find((c) => c.id === 'pagewise')).toBeUndefined();
        expect(s.categories.find((c) => c.id === 'anonymous')!.note).toMatch(/pagewise.node is loaded and its list of regions cannot be read/);
        return;
      }
      // Named right after mmap, seen from outside in /proc/PID/maps; the category holds exactly its resident bytes.
      expect(label).toBe('pagewise');
      expect(inMaps.pathname).toBe('[anon:pagewise]');
      expect(s.categories.find((c) => c.id === 'pagewise')!.rss).toBe(Number(resident));
      expect(Number(resident)).toBe(24 * MiB); // every page written
      expect(s.categories.find((c) => c.id === 'anonymous')!.note ?? '').not.toMatch(/list of regions cannot be read/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
