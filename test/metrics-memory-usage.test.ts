/**
 * memoryUsage(): process.memoryUsage()'s shape, rss from statm (exact on
 * Linux 6.16+) or from smaps_rollup, checked against the same files read
 * just before and just after, in a child where memory can only grow between
 * the reads (test/fixtures/metrics/quiet.js: V8 single-threaded, a full GC
 * first), so a figure must lie between the two readings beside it. In this
 * process V8's threads free pages at any moment. The figures of one
 * smaps_rollup walk are compared with each other exactly.
 */
import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { memoryUsage, statmIsExact, hugePageSize, pageSize, type MemoryUsage } from '../lib/index';
import { quietReadings } from './helpers/quiet';

const between = (x: number, a: number, b: number): void => {
  expect(x).toBeGreaterThanOrEqual(Math.min(a, b));
  expect(x).toBeLessThanOrEqual(Math.max(a, b));
};

let cached: ReturnType<typeof quietReadings> | undefined;
const quiet = (): { usage: MemoryUsage; usageRollup: MemoryUsage; statm0: number; statm1: number; roll0: number; roll1: number } => (cached ??= quietReadings());

describe('memoryUsage()', () => {
  it('has every field of process.memoryUsage(), with the same types, plus source, exact and the extras', () => {
    const m = memoryUsage();
    const node = process.memoryUsage();
    for (const key of Object.keys(node)) {
      expect(m).toHaveProperty(key);
      expect(Number.isSafeInteger((m as unknown as Record<string, number>)[key])).toBe(true);
    }
    expect(Object.keys(m).sort()).toEqual([...Object.keys(node), 'source', 'exact', 'pss', 'uss', 'swap', 'anonHuge'].sort());
    expect(m.heapUsed).toBeLessThanOrEqual(m.heapTotal);
  });

  it('default: rss is statm\'s resident pages times the page size, between two statm reads beside it; extras null', () => {
    const q = quiet();
    between(q.usage.rss, q.statm0, q.statm1);
    expect(q.usage.source).toBe('statm');
    expect(q.usage.exact).toBe(statmIsExact(os.release()));
    expect([q.usage.pss, q.usage.uss, q.usage.swap, q.usage.anonHuge]).toEqual([null, null, null, null]);
    expect(q.usage.rss % pageSize()).toBe(0);
  });

  it('rollup: rss from smaps_rollup (exact), between two walks beside it; uss <= pss <= rss in the one walk', () => {
    const q = quiet();
    const m = q.usageRollup;
    expect(m.source).toBe('smaps_rollup');
    expect(m.exact).toBe(true);
    between(m.rss, q.roll0, q.roll1);
    expect(m.uss!).toBeLessThanOrEqual(m.pss!);
    expect(m.pss!).toBeLessThanOrEqual(m.rss);
    expect(m.uss!).toBeGreaterThan(0);
    expect(m.swap!).toBeGreaterThanOrEqual(0);
    // AnonHugePages counts PMD-mapped transparent huge pages only: whole huge pages.
    const thp = hugePageSize();
    expect(thp === null ? m.anonHuge : m.anonHuge! % thp).toBe(0);
  });

  it('refuses bad options before reading anything', () => {
    expect(() => memoryUsage({ rollup: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => memoryUsage({ exact: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => memoryUsage(5 as never)).toThrow(TypeError);
  });
});
