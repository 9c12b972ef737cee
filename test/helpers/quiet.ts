/**
 * Runs test/fixtures/metrics/quiet.js: pagewise's figures read between two
 * reads of the same kernel source, in a child where memory can only grow
 * between them (`--single-threaded --expose-gc`, see the script).
 */
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { MemoryUsage } from '../../lib/index';
import { ROOT, HANG_GUARD_MS } from './child';

export interface QuietReadings {
  statm0: number;
  usage: MemoryUsage;
  statm1: number;
  roll0: number;
  usageRollup: MemoryUsage;
  roll1: number;
  scrapeStatm0: number;
  scrapeRoll0: number;
  text: string;
  scrapeRoll1: number;
  scrapeStatm1: number;
  statmIsExact: boolean;
}

export function quietReadings(): QuietReadings {
  const script = path.join(ROOT, 'test', 'fixtures', 'metrics', 'quiet.js');
  const r = spawnSync(process.execPath, ['--single-threaded', '--expose-gc', script], { encoding: 'utf8', cwd: ROOT, timeout: HANG_GUARD_MS });
  if (r.status !== 0) throw new Error(`quiet.js failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as QuietReadings;
}
