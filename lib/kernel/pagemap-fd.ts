/** A kept read descriptor of /proc/self/pagemap, for `ioctl(PAGEMAP_SCAN)` (Linux 6.7+), and the guard pages it reports. */
import * as fs from 'node:fs';
import { native } from '../native/binding';
import { kernelHas } from './features';
import { procPath } from './parse';

let fd = -1;

/** The descriptor, opened on first use and kept for the life of the process. */
export function pagemapFd(): number {
  if (fd < 0) fd = fs.openSync(procPath('self', 'pagemap'), 'r');
  return fd;
}

/**
 * @internal Guard-page ranges `[start, end, ...]` in `[start, end)` of the
 * process whose pagemap `fd` is (default this process's, kept open), or
 * null where the kernel cannot report them.
 */
export function guardRanges(start: bigint, end: bigint, fd?: number): bigint[] | null {
  if (!kernelHas('guardReport')) return null;
  const r = native.pagemapGuardScan(fd ?? pagemapFd(), start, end);
  return typeof r === 'number' ? null : r;
}

/** Pages in guard ranges ({@link guardRanges}), or null. */
export function guardPageCount(ranges: readonly bigint[] | null, page: number): number | null {
  if (ranges === null) return null;
  let bytes = 0n;
  for (let i = 0; i + 1 < ranges.length; i += 2) bytes += ranges[i + 1]! - ranges[i]!;
  return Number(bytes / BigInt(page));
}
