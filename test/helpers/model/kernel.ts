/** Kernel facts the model reads for itself: the maps, and whether THP can widen a fault. */
import * as fs from 'node:fs';
import { pageSize } from '../../../lib/index';
import { MAX_PAGES } from './ops';

const page = pageSize();

// ---------------------------------------------------------------- kernel facts

interface MapsEntry {
  start: bigint;
  end: bigint;
  perms: string;
}

export function readMaps(): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4})/.exec(line);
    if (m) out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3]! });
  }
  return out;
}

/**
 * Whether transparent huge pages could make one fault populate more than one
 * base page in a small anonymous mapping without advice (THP 'always', or a
 * multi-size THP set to 'always'): then residency is not exact and is only
 * checked where the model's own advice rules it out.
 */
export function thpMayWiden(): boolean {
  const base = '/sys/kernel/mm/transparent_hugepage';
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const top = read(`${base}/enabled`);
  let sizes: string[] = [];
  try {
    sizes = fs.readdirSync(base).filter((d) => d.startsWith('hugepages-'));
  } catch {
    /* no THP */
  }
  for (const s of sizes) {
    const v = read(`${base}/${s}/enabled`);
    if (v.includes('[always]') || (v.includes('[inherit]') && top.includes('[always]'))) {
      const kb = Number(/hugepages-(\d+)kB/.exec(s)?.[1] ?? 0);
      if (kb * 1024 <= MAX_PAGES * page) return true;
    }
  }
  return false;
}
