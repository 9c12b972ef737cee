import { describe, expect, it } from 'vitest';
import { runBenchmark, type BenchResult } from '../lib/bench/harness';
import { measureBenchmarks } from '../lib/bench/measure-suite';
import { arenaBenchmarks } from '../lib/bench/arena-suite';
import { benchmarks, limitRows } from '../lib/bench/suites';
import { mapsBenchmarks } from '../lib/bench/maps-suite';
import { benchMemory } from '../lib/bench/memory';
import { mmap } from '../lib/mapping';
import { pageSize } from '../lib/kernel/system';
import { kernelHas } from '../lib/kernel/features';
import { unmeasurable } from './helpers/emulation';

function wellFormed(r: BenchResult): void {
  if (r.skipped) {
    // Only a missing kernel feature may skip (PAGEMAP_SCAN before 6.7, guard regions before 6.13); say which.
    console.log(`${r.name} skipped: ${r.skipped}`);
    expect(r.name).toBe(r.name === 'arena-guard-1m' && !kernelHas('guard') ? 'arena-guard-1m' : 'residency-pagemap-scan-1g');
    return;
  }
  expect(r.runs).toBe(1);
  for (const s of [r.subject.ns, ...r.baselines.flatMap((b) => [b.ns, b.ratio])]) {
    expect(Number.isFinite(s.median)).toBe(true);
    expect(s.min).toBeLessThanOrEqual(s.median);
    expect(s.max).toBeGreaterThanOrEqual(s.median);
  }
  expect(r.baselines.length).toBeGreaterThan(0);
  for (const b of r.baselines) expect(['c', 'node', 'napi', 'pagewise']).toContain(b.kind);
  // What a C loop can do too (system calls, page walks, malloc) has its C
  // baseline; the arena's mixed workloads (issue 15) compare with the Node
  // built-ins a user would otherwise pick.
  const workload = /^arena-(mixed|64b-live|churn|reset-rounds)/.test(r.name);
  expect(r.baselines.some((b) => b.kind === 'c'), r.name).toBe(!workload);
  for (const t of r.targets) expect(t.met).toBeNull(); // quick: indicative, never judged
}

describe('measurement and arena benchmarks (quick: one round, tiny sizes)', () => {
  for (const b of [...measureBenchmarks, ...arenaBenchmarks]) {
    // mincore where it does not answer per page of this size (qemu-user at 16K
    // guest pages on 4K host pages) also writes past its vector.
    it.skipIf(b.name.includes('mincore') && unmeasurable('mincore', `benchmark ${b.name}`))(`${b.name} produces a well-formed result`, () => wellFormed(runBenchmark(b, { quick: true })));
  }
  for (const b of mapsBenchmarks) it.skipIf(!kernelHas('procmapQuery'))(`${b.name} produces a well-formed result`, () => wellFormed(runBenchmark(b, { quick: true })));
  it("every row of issue 26's table names a benchmark of the suite that carries a target against a C loop", () => {
    for (const row of limitRows) {
      const b = benchmarks.find((x) => x.name === row.benchmark);
      expect(b, row.benchmark).toBeDefined();
      expect(b!.targets?.length, row.benchmark).toBeGreaterThan(0);
    }
  });
  it('every benchmark has a unique name and a known group', () => {
    const names = benchmarks.map((b) => b.name);
    expect(new Set(names).size).toBe(names.length);
    for (const b of benchmarks) expect(['syscall', 'measure', 'arena', 'prefault', 'purge', 'maps']).toContain(b.group);
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
    // Every run takes at least one fault per page (the kernel's own); how
    // many more V8 adds in a run is luck, so no upper bound is asserted.
    expect(r.threadFaults.min).toBe(pages);
    expect(r.threadFaults.max).toBeGreaterThanOrEqual(pages);
    expect(r.faultsPerPage!.min).toBe(1);
    expect(r.nsPerPage!.median).toBe(r.timeNs.median / pages);
    m.unmap();
  });
  it('refuses an async function, or one that returns a promise, with a TypeError', async () => {
    let ran = 0;
    expect(() => benchMemory(async () => { ran++; })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/synchronous function.*measure\(\)/) }));
    expect(ran).toBe(0); // refused before anything ran
    expect(() => benchMemory(() => Promise.resolve(ran++), { runs: 1, warmup: 0 })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/returns a promise/) }));
    await Promise.resolve();
  });
  it('null per-page figures come with a note saying why', () => {
    // Without mappings the divisor is the process's RSS delta; a function
    // that touches nothing new leaves it 0 or below (nothing grew).
    const page = pageSize();
    const m = mmap(4 * page);
    m.view().fill(1); // resident before any run: the runs add no page
    const r = benchMemory(() => m.view(0, page)[0]!, { runs: 3, warmup: 0, mappings: [m] });
    expect(r.pages).toBeNull();
    expect(r.nsPerPage).toBeNull();
    expect(r.faultsPerPage).toBeNull();
    expect(r.notes.join('\n')).toMatch(/pages, nsPerPage and faultsPerPage are null: the residency of options.mappings did not grow in every run \(run 1: 0 pages, run 2: 0 pages, run 3: 0 pages\)/);
    m.unmap();
    const ok = benchMemory(() => 0, { runs: 1, warmup: 0, pages: 1 });
    expect(ok.pages).not.toBeNull();
    expect(ok.notes.some((n) => n.includes('null'))).toBe(false);
  });
  it('validates before running anything', () => {
    let ran = 0;
    expect(() => benchMemory(() => ran++, { runs: 0 })).toThrow(RangeError);
    expect(() => benchMemory(() => ran++, { bogus: 1 } as never)).toThrow(TypeError);
    expect(() => benchMemory('x' as never)).toThrow(TypeError);
    expect(ran).toBe(0);
  });
});
