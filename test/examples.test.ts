/**
 * Every example runs as a user runs it (compiled, `node dist/examples/X.js`)
 * and prints what its `// Output:` block shows, up to numbers (addresses,
 * timings) which vary from run to run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import { ASAN, sanitizerSkips } from './helpers/sanitizer';
import { unmeasurable, type ProbeName } from './helpers/emulation';

const dir = path.join(ROOT, 'examples');
const examples = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));

function shape(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/0x[0-9a-f]+…?/gi, '0x#').replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, '#').replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

/**
 * What each example's printed text depends on. Where a probe fails (an
 * emulator, or a kernel without perf) the example's text differs: that
 * example is skipped with the reason. mincore where it is not exact may also
 * write past its vector (qemu-user with 16K guest pages on 4K host pages).
 */
const needs: Record<string, ProbeName[]> = {
  'arena.ts': [],
  'bench-memory.ts': ['mincore', 'pagemap'],
  'experiments.ts': ['mincore', 'forkChildFaults'],
  'measure-zero-fill.ts': ['mincore', 'pagemap', 'pagemapScan', 'perf'],
  'mmap-basics.ts': ['mincore'],
};

describe('examples', () => {
  it('there are examples', () => expect(examples.length).toBeGreaterThan(0));
  for (const file of examples) {
    // experiments.ts runs every experiment, experiment 9's probe under `ulimit -d` (RLIMIT_DATA).
    const skip = (file === 'experiments.ts' && sanitizerSkips(`examples/${file}`, ASAN.rlimitData)) ||
      unmeasurable(needs[file] ?? ['mincore', 'pagemap'], `example ${file}`);
    it.skipIf(skip)(`${file} prints its // Output: block`, () => {
      const source = fs.readFileSync(path.join(dir, file), 'utf8');
      const at = source.lastIndexOf('// Output:');
      expect(at, `${file} has no // Output: block`).toBeGreaterThan(-1);
      const expected = source
        .slice(at + '// Output:'.length)
        .split('\n')
        .filter((l) => l.startsWith('//'))
        .map((l) => l.replace(/^\/\/ ?/, ''))
        .join('\n');
      const js = path.join(ROOT, 'dist', 'examples', file.replace(/\.ts$/, '.js'));
      const r = spawnSync(process.execPath, [js], { encoding: 'utf8', timeout: 120_000, cwd: ROOT });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(shape(r.stdout)).toEqual(shape(expected));
    });
  }
});
