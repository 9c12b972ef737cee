/** explain's KSM line (issue 25): smaps' `KSM` field summed; null where the kernel reports no KSM figure. */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attribute } from '../lib/explain/attribute';
import { parseSmapsFast } from '../lib/explain/smaps-fast';
import { explain } from '../lib/index';

/** The page size of the kernel this smaps text is written as (4 KiB pages: sizes in kB above are whole pages of it). */
const FIXTURE_PAGE = 4 * 1024;
const entry = (start: string, end: string, ksmKb: number | null): string => `${start}-${end} rw-p 00000000 00:00 0 \n` +
  `Size:                128 kB\nRss:                 128 kB\nPss:                  64 kB\nPrivate_Clean:          0 kB\nPrivate_Dirty:         64 kB\n` +
  `Swap:                  0 kB\nAnonHugePages:         0 kB\n${ksmKb === null ? '' : `KSM:                ${ksmKb} kB\n`}VmFlags: rd wr mr mw me ac \n`;

describe('KSM', () => {
  it('sums the KSM field of every mapping; null without the field', () => {
    const with_ = attribute(parseSmapsFast(entry('7f0000000000', '7f0000020000', 64) + entry('7f0000100000', '7f0000120000', 8)), { threadStackPointers: [], pageSize: FIXTURE_PAGE }, null);
    expect(with_.totals.ksm).toBe(72 * 1024);
    const without = attribute(parseSmapsFast(entry('7f0000000000', '7f0000020000', null)), { threadStackPointers: [], pageSize: FIXTURE_PAGE }, null);
    expect(without.totals.ksm).toBeNull();
  });
  it('a live snapshot reports the figure the kernel gives (smaps KSM on 6.6+, ksm_stat before)', () => {
    const s = explain();
    const smapsHasKsm = /^KSM:/m.test(fs.readFileSync('/proc/self/smaps_rollup', 'utf8')) || /^KSM:/m.test(fs.readFileSync('/proc/self/smaps', 'utf8'));
    if (smapsHasKsm || fs.existsSync('/proc/self/ksm_stat')) expect(typeof s.totals.ksm).toBe('number');
    else expect(s.totals.ksm).toBeNull();
  });
});
