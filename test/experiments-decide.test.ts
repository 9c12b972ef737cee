/**
 * The statistical verdict (issue 25): decide() and its interval, on made-up
 * trials (no timing, so it holds on a loaded machine), and the wording of
 * every experiment's verdict text over ratios on both sides of 1.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decide, decideAll, judge, medianInterval, medianRanks, type Decision } from '../lib/experiments/trials';
import { batchedVerdict } from '../lib/experiments/batched-madvise';
import { costVerdict } from '../lib/experiments/dontneed';
import { vsFirstTouch } from '../lib/experiments/prefault';
import { rssSourcesVerdict } from '../lib/experiments/rss-sources';
import { commitText } from '../lib/experiments/zero-fill';
import { costWords } from '../lib/experiments/common';

describe('the interval of the median', () => {
  it('takes the order statistics the binomial gives for 95%', () => {
    expect(medianRanks(5)).toEqual([0, 4]); // cannot reach 95%: the whole range
    expect(medianRanks(7)).toEqual([0, 6]); // 98.4%
    expect(medianRanks(9)).toEqual([1, 7]); // 96.1%
    expect(medianRanks(20)).toEqual([5, 14]); // 95.9%
    expect(medianInterval([5, 1, 3, 2, 4, 100, 0, 6, 7])).toEqual({ median: 4, low: 1, high: 7 });
  });

  it('confirms inside where the claim holds, refutes outside it, and is inconclusive across its edge', () => {
    expect(judge(0.2, 0.5, [0, 1])).toBe('confirmed');
    expect(judge(1.2, 3, [0, 1])).toBe('refuted');
    expect(judge(0.8, 1.2, [0, 1])).toBe('inconclusive');
    expect(judge(0.7, 1.4, [0.5, 2])).toBe('confirmed');
    expect(judge(2.5, 9, [0.5, 2])).toBe('refuted');
    expect(judge(0.1, 0.3, [0.5, 2])).toBe('refuted');
    expect(judge(NaN, NaN, [0, 1])).toBe('inconclusive');
  });
});

describe('decide()', () => {
  const cycle = (xs: number[]): ((flip: boolean) => number) => {
    let i = 0;
    return () => xs[i++ % xs.length]!;
  };

  it('stops once the 99% interval clears the threshold (not at the first 95% one), keeping the outliers it saw', () => {
    const d = decide({ trial: cycle([0.25, 0.3, 3.8, 0.26, 0.28, 0.24, 0.27, 0.29, 0.23]), holds: [0, 1], warmup: 0 });
    expect(d.outcome).toBe('confirmed');
    expect(d.stopped).toBe('decided');
    // At 9 trials the 95% interval (2nd to 8th) already clears 1x, the 99% one (the whole range, with 3.8) does not.
    expect(d.n).toBeGreaterThan(9);
    expect(d.n).toBeLessThan(41);
    expect(d.high).toBeLessThan(1);
    expect(d.ratios).toContain(3.8);
    expect(d.loadavg).toHaveLength(2);
  });

  it('refutes when the whole interval is on the wrong side', () => {
    expect(decide({ trial: cycle([6.6, 5.9, 7.1]), holds: [0, 1], warmup: 0 }).outcome).toBe('refuted');
  });

  it('says inconclusive at the trial cap when the ratios straddle the threshold', () => {
    const d = decide({ trial: cycle([0.8, 1.25]), holds: [0, 1], warmup: 0, maxTrials: 15, budgetMs: 1e9 });
    expect(d).toMatchObject({ outcome: 'inconclusive', stopped: 'maxTrials', n: 15 });
    expect(d.low).toBeLessThan(1);
    expect(d.high).toBeGreaterThan(1);
  });

  it('a budget of 0 stops at the first look', () => {
    const d = decide({ trial: cycle([0.8, 1.25]), holds: [0, 1], warmup: 0, minTrials: 9, budgetMs: 0 });
    expect(d).toMatchObject({ outcome: 'inconclusive', stopped: 'budget', n: 9 });
  });

  it('alternates the order of the contenders and skips trials that measured nothing', () => {
    const flips: boolean[] = [];
    const d = decide({ trial: (f) => (flips.push(f), flips.length % 3 === 0 ? NaN : 0.5), holds: [0, 1], warmup: 1 });
    expect(flips.slice(0, 4)).toEqual([false, false, true, false]); // one warm-up, then A-B, B-A, ...
    expect(d.ratios.every(Number.isFinite)).toBe(true);
    expect(d.outcome).toBe('confirmed');
  });

  it('several ratios from the same trials: it stops early only when each one decides, and judges each', () => {
    let i = 0;
    const ds = decideAll({ trial: () => [0.3, i++ % 2 ? 0.8 : 1.25], holds: [0, 1], warmup: 0, maxTrials: 21, budgetMs: 1e9 });
    expect(ds.map((d) => d.outcome)).toEqual(['confirmed', 'inconclusive']);
    expect(ds.map((d) => d.n)).toEqual([21, 21]);
    expect(ds[0]!.stopped).toBe('maxTrials');
  });

  it('gives the same verdict run after run on the same trials', () => {
    const seq = [0.31, 0.22, 0.95, 0.27, 0.4, 0.26, 0.33, 0.29, 0.24, 0.5, 0.28];
    const outcomes = Array.from({ length: 6 }, () => decide({ trial: cycle(seq), holds: [0, 1], warmup: 0 }).outcome);
    expect(new Set(outcomes)).toEqual(new Set(['confirmed']));
  });
});

/** A decision whose median is `r`, for the text generators. */
function fake(r: number, outcome: Decision['outcome']): Decision {
  const low = outcome === 'inconclusive' ? Math.min(r, 0.9) * 0.9 : r * 0.9;
  const high = outcome === 'inconclusive' ? Math.max(r, 1.1) * 1.1 : r * 1.1;
  return { outcome, median: r, low, high, holds: [0, 1], n: 9, ratios: [r], stopped: 'decided', loadavg: [1, 1] };
}

/**
 * A sentence about a ratio r (A's time over B's) may say "Nx cheaper" or
 * "Nx faster" only with N >= 1 and r < 1, "Nx dearer" or "Nx slower" only
 * with N >= 1 and r > 1, and never "slower" or "dearer" at all for r < 1
 * (nor "cheaper" or "faster" for r > 1).
 */
function checkWording(text: string, r: number): void {
  for (const [, num, word] of text.matchAll(/([\d.]+)x (cheaper|faster|dearer|slower|more|less)\b/g)) {
    expect(Number(num), text).toBeGreaterThanOrEqual(1);
    if (word === 'cheaper' || word === 'faster' || word === 'less') expect(r, text).toBeLessThan(1);
    else expect(r, text).toBeGreaterThan(1);
  }
  if (r < 0.95) expect(text, `ratio ${r}`).not.toMatch(/slower|dearer/);
  if (r > 1.05) expect(text, `ratio ${r}`).not.toMatch(/cheaper|faster/);
}

const RATIOS = [0.04, 0.23, 0.26, 0.48, 0.56, 0.9, 0.97, 1, 1.03, 1.2, 3.83, 6.6];

describe('verdict wording', () => {
  // Every experiment whose verdict text states a ratio, with its generator.
  const generators: Record<string, (r: number, o: Decision['outcome']) => string> = {
    'dontneed.ts': (r, o) => costVerdict(fake(r, o), 1 << 12).text,
    'batched-madvise.ts': (r, o) => batchedVerdict(fake(r, o), 1000, fake(r, o)).condition,
    'prefault.ts': (r) => vsFirstTouch(r * 1000, 1000),
    'rss-sources.ts': (r, o) => rssSourcesVerdict(fake(r, o), 'statm').condition,
    'zero-fill.ts': (r, o) => commitText(fake(r, o), 1 << 30),
  };

  // Experiments that decide a share of pages or bytes (or a growth over noise), not a time ratio: their texts state percentages and sizes.
  const NOT_RATIOS = ['exit-recovery.ts', 'kernel-memory.ts', 'resizable-shrink.ts', 'thp-modes.ts', 'trim-malloc.ts'];

  it('covers every experiment that decides by a ratio', () => {
    const dir = path.join(__dirname, '..', 'lib', 'experiments');
    const deciding = fs.readdirSync(dir).filter((f) => f !== 'trials.ts' && /\bdecide(All)?\(|costWords\(/.test(fs.readFileSync(path.join(dir, f), 'utf8')) && f !== 'common.ts');
    expect(Object.keys(generators).sort()).toEqual(expect.arrayContaining(deciding.filter((f) => !NOT_RATIOS.includes(f)).sort()));
  });

  it('the experiments that decide shares or bytes never word them as a ratio', () => {
    const dir = path.join(__dirname, '..', 'lib', 'experiments');
    for (const f of NOT_RATIOS) {
      const src = fs.readFileSync(path.join(dir, f), 'utf8');
      expect(src, f).toMatch(/\bdecide(All)?\(/);
      expect(src, f).not.toMatch(/costWords|fmtRatio/);
      // showDecision and inconclusiveText format with x (a ratio) unless given a formatter.
      expect(src, f).not.toMatch(/showDecision\([^,()]+\)/);
      for (const [call] of src.matchAll(/inconclusiveText\([^;]*?\)(?=[,;\n])/g)) expect(call.split(',').length, `${f}: ${call}`).toBeGreaterThanOrEqual(4);
    }
  });

  it('never calls a ratio below 1 slower, nor one above 1 cheaper, and states every "Nx" word with N >= 1', () => {
    for (const [file, gen] of Object.entries(generators)) {
      for (const r of RATIOS) {
        for (const o of ['confirmed', 'refuted', 'inconclusive'] as const) {
          const text = gen(r, o);
          expect(text.length, file).toBeGreaterThan(0);
          checkWording(text, r);
        }
      }
    }
  });

  it('costWords: always above 1, cheaper when less, dearer when more', () => {
    for (const r of RATIOS) checkWording(costWords(r, 1), r);
    expect(costWords(0.56, 1)).toBe('1.8x cheaper');
    expect(costWords(6.6, 1)).toBe('6.6x dearer');
  });

  it('an inconclusive verdict says so, with its interval and the load average', () => {
    const t = batchedVerdict(fake(0.97, 'inconclusive'), 1000);
    expect(t.verdict).toBe('depends');
    expect(t.condition).toMatch(/^inconclusive here: .*95% interval \[[\d.]+x, [\d.]+x\].*load average/);
    expect(costVerdict(fake(0.97, 'inconclusive'), 1 << 12).text).toMatch(/^inconclusive here: /);
  });
});
