/**
 * memoryUsage(): process.memoryUsage()'s shape, rss from statm (exact on
 * Linux 6.16+) or from smaps_rollup, checked against the same files read
 * just before and just after. Memory moves between reads (V8's threads), so
 * a figure is required to lie between the two readings beside it, and the
 * figures of one smaps_rollup walk are compared with each other exactly.
 */
import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { memoryUsage, statmIsExact, rss, readSmapsRollup, hugePageSize } from '../lib/index';

const between = (x: number, a: number, b: number): void => {
  expect(x).toBeGreaterThanOrEqual(Math.min(a, b));
  expect(x).toBeLessThanOrEqual(Math.max(a, b));
};

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
    const before = rss();
    const m = memoryUsage();
    const after = rss();
    expect(before.source).toBe('statm');
    between(m.rss, before.bytes, after.bytes);
    expect(m.source).toBe('statm');
    expect(m.exact).toBe(statmIsExact(os.release()));
    expect([m.pss, m.uss, m.swap, m.anonHuge]).toEqual([null, null, null, null]);
  });

  it('rollup: rss from smaps_rollup (exact), between two walks beside it; uss <= pss <= rss in the one walk', () => {
    const before = readSmapsRollup();
    const m = memoryUsage({ rollup: true });
    const after = readSmapsRollup();
    expect(m.source).toBe('smaps_rollup');
    expect(m.exact).toBe(true);
    between(m.rss, before.rss, after.rss);
    // Not pss: it moves when other processes map or drop the same libraries, not only with this one.
    between(m.swap!, before.swap, after.swap);
    expect(m.uss!).toBeLessThanOrEqual(m.pss!);
    expect(m.pss!).toBeLessThanOrEqual(m.rss);
    expect(m.uss!).toBeGreaterThan(0);
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
