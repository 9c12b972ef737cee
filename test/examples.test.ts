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

const dir = path.join(ROOT, 'examples');
const examples = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));

function shape(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/0x[0-9a-f]+…?/gi, '0x#').replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, '#').replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

describe('examples', () => {
  it('there are examples', () => expect(examples.length).toBeGreaterThan(0));
  for (const file of examples) {
    // experiments.ts runs every experiment, experiment 9's probe under `ulimit -d` (RLIMIT_DATA).
    const skip = file === 'experiments.ts' && sanitizerSkips(`examples/${file}`, ASAN.rlimitData);
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
