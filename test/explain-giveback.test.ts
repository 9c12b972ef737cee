/** explain's verdicts name the give-back function that helps, with the figure it would free (issue 27). */
import { describe, expect, it } from 'vitest';
import { verdicts } from '../lib/explain/verdict';
import type { ExplainSnapshot } from '../lib/explain/types';

const MiB = 1 << 20;
const snap = (t: number, cats: Record<string, number>, bd: Record<string, number>): ExplainSnapshot => ({
  pid: 1, time: t, pageSize: 4096, costMs: 0, runtime: null,
  totals: { rss: Object.values(cats).reduce((a, b) => a + b, 0), pss: 0, uss: 0, swap: 0, anonHuge: 0, pageTables: 0, rollupRss: 0, vmas: 0, sealedVmas: 0, sealedBytes: 0, guardPages: null, ksm: null },
  categories: Object.entries(cats).map(([id, rss]) => ({ id, kind: 'anonymous', label: id, rss, pss: 0, private: 0, swap: 0, anonHuge: 0, vmaCount: 1, size: 0, source: 'vma', estimate: false, evidence: {} })),
  breakdowns: Object.entries(bd).map(([id, bytes]) => ({ id: id as 'malloc-free', label: id, bytes, statistic: 's', within: [], estimate: true, note: '' })),
});

describe('the glibc fragmentation verdict', () => {
  it('names trimMalloc() with the free bytes it could give back (the last sample)', () => {
    // malloc's free bytes 30 -> 48 MiB over 10 s while V8's heap and malloc's use stay flat.
    const series = Array.from({ length: 10 }, (_, i) => snap(i * 1000, { heap: 60 * MiB + i * 2 * MiB, 'v8-heap': 50 * MiB }, { 'malloc-free': 30 * MiB + i * 2 * MiB, 'malloc-in-use': 20 * MiB, 'v8-used': 30 * MiB }));
    const v = verdicts(series).find((x) => x.subject === 'malloc-free')!;
    expect(v.kind).toBe('grows');
    expect(v.text).toMatch(/fragmentation/);
    expect(v.text).toContain('trimMalloc() (malloc_trim(0)) would give back up to 48.0 MiB');
  });

  it('a growing workload: still names trimMalloc() with the figure', () => {
    const series = Array.from({ length: 10 }, (_, i) => snap(i * 1000, { heap: 60 * MiB + i * 4 * MiB }, { 'malloc-free': 10 * MiB + i * 2 * MiB, 'malloc-in-use': 20 * MiB + i * 2 * MiB }));
    const v = verdicts(series).find((x) => x.subject === 'malloc-free')!;
    expect(v.text).toMatch(/growing workload; trimMalloc\(\) \(malloc_trim\(0\)\) would give back up to 28\.0 MiB/);
  });
});
