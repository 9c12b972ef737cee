/**
 * Every example runs as a user runs it (compiled, `node dist/examples/X.js`)
 * and prints exactly what its `// Output:` block shows, number for number,
 * except the figures listed in `varies` below (timings, addresses, and
 * process-wide or system-wide figures that other threads and processes move),
 * each named with the reason.
 *
 * An example whose figures depend on the kernel has one block per case, each
 * headed with its conditions, and prints which case it measured:
 *   // Output (4 KiB pages, where read faults map the shared zero page):
 *   // Output (4 KiB pages, where read faults allocate a page):
 * The test picks the block for this kernel (zeroPageBehaviour(), measured
 * here) and compares it exactly. A block recorded at another page size than
 * this host's is compared up to numbers (page-size-dependent figures), with a
 * note.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import { ASAN, sanitizerSkips } from './helpers/sanitizer';
import { unmeasurable, type ProbeName } from './helpers/emulation';
import { kernelHas, pageSize, zeroPageBehaviour } from '../lib/index';

const dir = path.join(ROOT, 'examples');
const examples = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));

/** A hang guard for a child process, not a time limit: a slow machine is a slow run. */
const HANG_GUARD_MS = 30 * 60_000;

/**
 * What may differ from run to run, per example: the first group of each
 * pattern is replaced by `#` in both the block and the output.
 */
const varies: Record<string, RegExp[]> = {
  'arena.ts': [
    /process RSS grew by ([\d.]+) MiB/, // smaps_rollup of the whole process: V8's heap and threads
    /alloc\+free of 64 B: (\d+) ns/, // timing
    /process RSS: ([\d.]+) MiB above/, // whole process again
  ],
  'bench-memory.ts': [
    /^time: (.*)$/, // timing
    /^per page: (.*)$/, // timing
    /\(median ([\d.]+)\)/, // a run where V8 faulted a heap page of its own on this thread counts one more
    /process RSS delta: (-?\d+) KiB/, // whole process
  ],
  'experiments.ts': [
    /Committed_AS change, MAP_NORESERVE = (-?\d+ bytes)/, // /proc/meminfo is system-wide: other processes commit memory meanwhile
    /\/proc\/meminfo, median of (\d+) interleaved trials/, // decide() runs trials until the interval decides
  ],
  'measure-zero-fill.ts': [
    /^THP mode: (\w+)/, // the host's setting (the example advises MADV_NOHUGEPAGE, so nothing depends on it)
    /process RSS (\d+) MiB$/, // whole process
    /process RSS: (.*): V8/, // whole process
    /time: (\d+) us/, // timing
    /faults: (\d+) minor on this thread/, // Node 22+ can fault a page of its own on this thread in every trial (measured: 1001 in all 3)
    /, (\d+) by perf/, // the same fault, counted by perf
  ],
  'mmap-basics.ts': [/ at (0x[0-9a-f]+…)/], // the address the kernel chose
  'share-worker.ts': [], // nothing varies: counters and an address compared, not printed
  'shared-arena.ts': [], // nothing varies: one producer allocates, so its handles are the same every run
  'share-child.ts': [], // nothing varies: sizes are fixed, not page-dependent
  'append-log.ts': [], // nothing varies: record counts and bytes
  'offheap-cache.ts': [], // nothing varies: records, size classes and mincore of the arena
  'metrics-server.ts': [
    /\(\/proc\/self\/stat\): ([\d.]+ MiB)/, // whole process
    /source="(\w+)"/, // statm on Linux 6.16+ (exact there), smaps_rollup before
    /resident_bytes\{source="[^"]*"\}: ([\d.]+ MiB)/, // whole process
    /pss_bytes: ([\d.]+ MiB)/, // whole process, and shared pages divided among however many processes map them
    /: (\d+) categories/, // malloc-mmapped and others appear only when they hold memory
    /adding up to ([\d.]+ MiB)/, // whole process
    /grew by ([\d.]+ MiB)/, // 8.0 MiB of written pages; a host with THP "always" may fault the arena's range in 2 MiB steps
  ],
  'cold-cache.ts': [
    /resident cold pages: \d+ before, (\d+) after/, // with swap the cold pages leave RSS, without they stay
    /\(swap: ([^)]*)\)/, // the host's swap
    /reading a cold entry: ([\d.]+ us before, [\d.]+ us after)/, // timing
  ],
};

interface Block {
  header: string;
  pageKiB?: number;
  zeroPage?: boolean;
  lines: string[];
}

/** The `// Output` blocks of an example, each with the conditions in its header. */
function blocks(source: string): Block[] {
  const out: Block[] = [];
  let cur: Block | undefined;
  for (const line of source.split('\n')) {
    const h = /^\/\/ Output(?: \(([^)]*)\))?:\s*$/.exec(line);
    if (h) {
      const cond = h[1] ?? '';
      const kib = /(\d+) KiB pages/.exec(cond);
      cur = {
        header: line,
        lines: [],
        ...(kib ? { pageKiB: Number(kib[1]) } : {}),
        ...(/read faults map the shared zero page/.test(cond) ? { zeroPage: true } : /read faults allocate/.test(cond) ? { zeroPage: false } : {}),
      };
      out.push(cur);
    } else if (cur && line.startsWith('//')) cur.lines.push(line.replace(/^\/\/ ?/, ''));
    else cur = undefined;
  }
  return out;
}

function normalize(lines: string[], patterns: RegExp[], numbers: boolean): string[] {
  return lines
    .map((l) => {
      let s = l.trimEnd();
      for (const re of patterns) s = s.replace(re, (match, g: string) => match.replace(g, '#'));
      if (numbers) s = s.replace(/-?\d+(\.\d+)?/g, '#');
      return s;
    })
    .filter((l) => l.trim() !== '');
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
  'share-worker.ts': [],
  'share-child.ts': [],
  'append-log.ts': [],
  'metrics-server.ts': [],
  'cold-cache.ts': ['mincore'],
};

describe('examples', () => {
  it('there are examples, each with an Output block, and every varying figure is named with its example', () => {
    expect(examples.length).toBeGreaterThan(0);
    for (const file of examples) {
      const source = fs.readFileSync(path.join(dir, file), 'utf8');
      expect(blocks(source).length, `${file} has no // Output: block`).toBeGreaterThan(0);
      expect(Object.keys(varies)).toContain(file);
    }
  });

  it('the block parser reads conditions from the header', () => {
    const b = blocks('x\n// Output (4 KiB pages, where read faults allocate a page):\n// a 1\n//   b\n\n// Output:\n// c\n');
    expect(b).toEqual([
      { header: '// Output (4 KiB pages, where read faults allocate a page):', pageKiB: 4, zeroPage: false, lines: ['a 1', '  b'] },
      { header: '// Output:', lines: ['c'] },
    ]);
  });

  for (const file of examples) {
    // experiments.ts runs every experiment, experiment 9's probe under `ulimit -d` (RLIMIT_DATA).
    const skip = (file === 'experiments.ts' && sanitizerSkips(`examples/${file}`, ASAN.rlimitData)) ||
      (file === 'measure-zero-fill.ts' && sanitizerSkips(`examples/${file}`, 'native calls allocate from the sanitizer\'s allocator, which faults fresh pages inside the measured window')) ||
      (file === 'cold-cache.ts' && !kernelHas('writeTracking')) || // userfaultfd write-protect (Linux 6.7): its output is about what it finds
      unmeasurable(needs[file] ?? ['mincore', 'pagemap'], `example ${file}`);
    it.skipIf(skip)(`${file} prints its // Output: block`, () => {
      const source = fs.readFileSync(path.join(dir, file), 'utf8');
      const zero = zeroPageBehaviour().readFaultMapsZeroPage;
      const candidates = blocks(source).filter((b) => b.zeroPage === undefined || b.zeroPage === zero);
      expect(candidates.map((b) => b.header), `${file}: exactly one Output block for this kernel (zero page ${zero ? 'mapped' : 'not mapped'} on read faults)`).toHaveLength(1);
      const block = candidates[0]!;
      const samePage = block.pageKiB === undefined || block.pageKiB * 1024 === pageSize();
      if (!samePage) console.warn(`[numbers not compared] ${file}: its block was recorded with ${block.pageKiB} KiB pages, this host has ${pageSize() / 1024} KiB`);
      const js = path.join(ROOT, 'dist', 'examples', file.replace(/\.ts$/, '.js'));
      const r = spawnSync(process.execPath, [js], { encoding: 'utf8', timeout: HANG_GUARD_MS, cwd: ROOT });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const patterns = varies[file] ?? [];
      expect(normalize(r.stdout.split('\n'), patterns, !samePage)).toEqual(normalize(block.lines, patterns, !samePage));
    });
  }
});
