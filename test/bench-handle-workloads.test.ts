/**
 * The arena workloads (`npm run bench:handles`) at their quick sizes: each
 * JS contender runs the same loop on the same random sequence (equal
 * checksums and live counts), the C baselines run it too (equal checksums),
 * and the mimalloc-bench ports draw what the originals draw.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { makeAllocator } from '../lib/bench/handle-allocators';
import { allocTestSize, paretoTables, Rng, runWorkload, sizesFor, WORKLOADS } from '../lib/bench/handle-workload-loops';
import { buildCWorkloads } from '../lib/bench/handle-workloads-c';

const SEED = 0x9e3779b9; // the seed of the child processes and of the C program

async function quickRun(workload: string, contender: string): Promise<{ sum: number; live: number; own: number }> {
  const a = await makeAllocator(contender);
  const { live, sum } = runWorkload(workload, a, sizesFor(true), new Rng(SEED));
  const n = live.length;
  for (const b of live) a.free(b);
  a.settle();
  return { sum, live: n, own: a.own() };
}

describe('arena workloads, quick sizes', () => {
  const c = buildCWorkloads();

  for (const w of WORKLOADS) {
    it(`${w}: handles, views and the JS pool agree on the checksum and the live blocks; so do the C baselines`, async () => {
      const handles = await quickRun(w, 'handles');
      const views = await quickRun(w, 'views');
      const pool = await quickRun(w, 'pool');
      expect(views).toMatchObject({ sum: handles.sum, live: handles.live });
      expect(pool).toMatchObject({ sum: handles.sum, live: handles.live });
      // A workload that ends with blocks live keeps some; every workload reads what it wrote.
      if (w === 'glibc-simple' || w === 'malloc-large') expect(handles.live).toBe(0);
      else expect(handles.live).toBeGreaterThan(0);
      if (w !== 'glibc-simple') expect(handles.sum).toBeGreaterThan(0);
      // The arena after free-all and purge(): its resident pages and bookkeeping, a number.
      expect(handles.own).toBeGreaterThan(0);
      for (const exe of Object.values(c)) {
        const r = spawnSync(exe, [w, '1'], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        expect((JSON.parse(r.stdout) as { sum: number }).sum).toBe(handles.sum);
      }
    });
  }

  it('malloc-large writes 2 MiB blocks whole: the checksum is one x (0x78) per block', async () => {
    const { sum } = await quickRun('malloc-large', 'handles');
    expect(sum).toBe(0x78 * sizesFor(true).largeIters);
  });

  it("alloc-test draws alloc-test's sizes (5 B-1 KiB) and Pareto ranges", () => {
    expect(allocTestSize(0)).toBe(5);
    expect(allocTestSize(0xffffffff)).toBe(1024);
    expect(allocTestSize(1)).toBe(9); // base 2: ctz 1, idx 3, (0 & 7) + 1 + 8
    const { ranges, offsets } = paretoTables(2 ** 18);
    // Slots per level, hottest first: 2^18 x 0.000064, 0.001536, ... truncated, the rest in the last.
    expect(offsets).toEqual([0, 16, 418, 4444, 25918, 90342, 193421, 262144]);
    expect(ranges[0]).toBe(Math.trunc(4294967295 * 0.262144));
    for (let i = 1; i < 6; i++) expect(ranges[i]!).toBeGreaterThan(ranges[i - 1]!);
  });
});
