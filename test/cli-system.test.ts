import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import { pageSize } from '../lib/kernel/system';
import { ifMeasurable } from './helpers/emulation';
import { ASAN, unlessSanitizer } from './helpers/sanitizer';

it('pagewise system --json: kernel facts and an exact zero-fill demonstration', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'lib', 'cli.js'), 'system', '--json'], { encoding: 'utf8', cwd: ROOT });
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.pageSize).toBe(pageSize());
  expect(report.maxMapCount).toBeGreaterThan(0);
  const z = report.zeroFill;
  expect(z.residentBefore).toBe(0);
  ifMeasurable('mincore', 'resident pages after the writes', () => expect(z.residentAfter).toBe(z.pagesWritten));
  ifMeasurable('pagemap', "the mapping's RSS delta", () => expect(z.mappingRssDelta).toBe(z.pagesWritten * pageSize()));
  // One fault per page written: the demo reports the fewest of its trials on
  // fresh pages (V8 may add a fault of its own to any one trial).
  expect(z.trials).toBe(5);
  ifMeasurable('rusageFaults', 'thread faults', () => {
    expect(z.threadFaults).toBeGreaterThanOrEqual(z.pagesWritten);
    unlessSanitizer('thread faults, fewest of 5 trials, exactly one per page', ASAN.faults, () =>
      expect(z.threadFaults).toBe(z.pagesWritten));
  });
  expect(z.residentAfterDontneed).toBe(0);
});

it('pagewise system --help and a bad flag', () => {
  const cli = path.join(ROOT, 'dist', 'lib', 'cli.js');
  const help = spawnSync(process.execPath, [cli, 'system', '--help'], { encoding: 'utf8' });
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^Usage: pagewise system/);
  const bad = spawnSync(process.execPath, [cli, 'system', '--bogus'], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr.trim().split('\n')).toHaveLength(1);
});
