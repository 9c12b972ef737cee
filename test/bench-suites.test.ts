import { describe, expect, it } from 'vitest';
import { runBenchmark, type BenchResult } from '../lib/bench/harness';
import { measureBenchmarks } from '../lib/bench/measure';
import { arenaBenchmarks } from '../lib/bench/arena';
import { benchmarks } from '../lib/bench/registry';
import { benchMemory } from '../lib/bench/memory';
import { mmap } from '../lib/mapping';
import { pageSize } from '../lib/system';
import { unmeasurable } from './helpers/emulation';

function wellFormed(r: BenchResult): void {
  if (r.skipped) {
    // Only a missing kernel feature may skip (PAGEMAP_SCAN before 6.7); say which.
    console.log(`${r.name} skipped: ${r.skipped}`);
    expect(r.name).toBe('residency-pagemap-scan-1g');
    return;
  }
  expect(r.runs).toBe(1);
  for (const s of [r.subject.ns, ...r.baselines.flatMap((b) => [b.ns, b.ratio])]) {
    expect(Number.isFinite(s.median)).toBe(true);
    expect(s.min).toBeLessThanOrEqual(s.median);
    expect(s.max).toBeGreaterThanOrEqual(s.median);
  }
  expect(r.baselines.some((b) => b.kind === 'c')).toBe(true);
  for (const t of r.targets) expect(t.met).toBe(t.ratio <= t.maxRatio);
}

describe('measurement and arena benchmarks (quick: one round, tiny sizes)', () => {
  for (const b of [...measureBenchmarks, ...arenaBenchmarks]) {
    // mincore where it does not answer per page of this size (qemu-user at 16K
    // guest pages on 4K host pages) also writes past its vector.
    it.skipIf(b.name.includes('mincore') && unmeasurable('mincore', `benchmark ${b.name}`))(`${b.name} produces a well-formed result`, () => wellFormed(runBenchmark(b, { quick: true })));
  }
  it('every benchmark has a unique name and a known group', () => {
    const names = benchmarks.map((b) => b.name);
    expect(new Set(names).size).toBe(names.length);
    for (const b of benchmarks) expect(['syscall', 'measure', 'arena', 'prefault', 'purge']).toContain(b.group);
  });
});

describe('benchMemory', () => {
  const page = pageSize();
  it.skipIf(unmeasurable(['pagemap', 'dontneedZeroes'], 'benchMemory residency counts'))('reports exactly one thread fault and one resident page per page written, every run', () => {
    const pages = 32;
    const m = mmap(pages * page, { noReserve: true });
    m.advise('nohugepage');
    const view = m.view();
    const runs = 5;
    const r = benchMemory(() => { for (let o = 0; o < view.length; o += page) view[o] = 1; }, {
      runs, warmup: 1, mappings: [m], setup: () => void m.advise('dontneed'),
    });
    expect(r.runs).toBe(runs);
    // The mapping's own numbers are exact in every run.
    expect(r.residencyDeltaPages[0]).toEqual({ median: pages, min: pages, max: pages });
    expect(r.pages).toEqual({ count: { median: pages, min: pages, max: pages }, source: 'residency' });
    // This thread's fault count is exact too, except that the JS loop itself
    // may now and then touch a fresh page of V8's heap (a real fault of this
    // thread): the fewest faults of the runs is exactly one per page.
    expect(r.threadFaults.min).toBe(pages);
    expect(r.threadFaults.max).toBeLessThanOrEqual(pages + 2);
    expect(r.faultsPerPage!.min).toBe(1);
    expect(r.nsPerPage!.median).toBe(r.timeNs.median / pages);
    m.unmap();
  });
  it('validates before running anything', () => {
    let ran = 0;
    expect(() => benchMemory(() => ran++, { runs: 0 })).toThrow(RangeError);
    expect(() => benchMemory(() => ran++, { bogus: 1 } as never)).toThrow(TypeError);
    expect(() => benchMemory('x' as never)).toThrow(TypeError);
    expect(ran).toBe(0);
  });
});
