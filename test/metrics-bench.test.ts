/**
 * The operator-figure benchmarks (lib/bench/metrics-suite.ts) run in quick
 * mode (tiny sizes, one round): well-formed results, a C baseline each, the
 * notes that the docs quote (VMA count, the parts of a reading, the longest
 * smaps read).
 */
import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../lib/bench/harness';
import { metricsBenchmarks } from '../lib/bench/metrics-suite';
import { benchmarks } from '../lib/bench/suites';

describe('metrics benchmarks (quick)', () => {
  it('are in the suite, in the measure group, with unique names', () => {
    for (const b of metricsBenchmarks) {
      expect(benchmarks).toContain(b);
      expect(b.group).toBe('measure');
    }
    expect(new Set(benchmarks.map((b) => b.name)).size).toBe(benchmarks.length);
  });

  for (const b of metricsBenchmarks) {
    it(`${b.name} produces a well-formed result`, () => {
      const r = runBenchmark(b, { quick: true });
      expect(r.skipped).toBeUndefined();
      expect(r.runs).toBe(1);
      for (const s of [r.subject.ns, ...r.baselines.flatMap((x) => [x.ns, x.ratio])]) {
        expect(Number.isFinite(s.median) && s.median > 0).toBe(true);
      }
      expect(r.baselines.some((x) => x.kind === 'c')).toBe(true);
      expect(r.baselines.some((x) => x.label === 'process.memoryUsage()')).toBe(true);
      for (const t of r.targets) expect(t.met).toBeNull();
      if (b.name.startsWith('metrics-reading')) {
        expect(r.notes.some((n) => /^\d+ VMAs in the process; 20 mappings/.test(n))).toBe(true);
        expect(r.notes.some((n) => /the longest \d+\.\d{3} ms/.test(n))).toBe(true);
      }
    });
  }
});
