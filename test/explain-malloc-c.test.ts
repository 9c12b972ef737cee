/**
 * explain of a C program by pid (issue 25): glibc's mmapped chunks are found
 * by their headers even where the kernel merged them with other memory, so
 * malloc's categories hold what mallinfo2() says is in use. The program is
 * compiled here with gcc.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import { sanitizerSkips } from './helpers/sanitizer';
import { explain } from '../lib/index';

function hasGcc(): boolean {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasGcc() || sanitizerSkips('explain of a C program', 'reads glibc malloc chunk headers'))('explain --pid of a C program with 200 MiB of malloc', () => {
  it('puts at least 95% of mallinfo2\'s in-use bytes in malloc\'s categories; the mmapped chunks\' virtual size is hblkhd exactly', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-malloc-c-'));
    const exe = path.join(dir, 'malloc-200');
    execFileSync('gcc', ['-O1', '-o', exe, path.join(ROOT, 'test', 'fixtures', 'explain', 'malloc-200.c')]);
    const child = spawn(exe, [], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        readline.createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const [asked, arena, hblkhd, uordblks] = line.trim().split(' ').map(Number) as [number, number, number, number, number];
      expect(asked).toBeGreaterThanOrEqual(200 * 1024 * 1024);
      const snap = explain({ pid: child.pid! });
      const rss = (id: string): number => snap.categories.find((c) => c.id === id)?.rss ?? 0;
      const malloc = rss('heap') + rss('malloc-arenas') + rss('malloc-mmapped');
      const inUse = uordblks + hblkhd;
      expect(malloc / inUse).toBeGreaterThanOrEqual(0.95);
      // Resident malloc memory is within what malloc got from the kernel.
      expect(malloc).toBeLessThanOrEqual(arena + hblkhd);
      // Every mmapped chunk found, to the byte (their sizes are page multiples).
      expect(snap.categories.find((c) => c.id === 'malloc-mmapped')!.size).toBe(hblkhd);
      // Nothing of it is left in other anonymous memory but the program's own 12 KiB mappings.
      expect(rss('anonymous')).toBeLessThan(hblkhd / 100);
      // A C program is not told to run under node.
      expect(snap.node).toBe(false);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
