/**
 * Writes that reset what the kernel counts for this process:
 * `/proc/self/clear_refs` (`5` resets the peak RSS `VmHWM`; `4` clears the
 * soft-dirty bits) and a cgroup v2 `memory.peak` descriptor (Linux 6.12+: a
 * write resets the peak as that descriptor reads it).
 */
import * as fs from 'node:fs';
import { procPath } from './parse';

/** What `clear_refs` accepts that pagewise uses: 4 clears soft-dirty bits (Linux 3.11), 5 resets VmHWM (4.0). */
export type ClearRefs = 4 | 5;

/** Writes `value` to /proc/self/clear_refs; throws the `fs` error (EINVAL where the kernel lacks it). */
export function writeClearRefs(value: ClearRefs): void {
  fs.writeFileSync(procPath('self', 'clear_refs'), String(value));
}

/**
 * Opens `<dir>/memory.peak` for reading and writing and resets the peak for
 * this descriptor (Linux 6.12+). Returns the descriptor (the caller keeps it:
 * the reset holds only for reads through it), or throws the `fs` error
 * (ENOENT without the memory controller, EACCES/EROFS where the cgroup is
 * not ours to write, EINVAL before 6.12).
 */
export function openResetCgroupPeak(dir: string): number {
  const fd = fs.openSync(`${dir}/memory.peak`, 'r+');
  try {
    fs.writeSync(fd, 'reset\n');
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Reads a `memory.peak` descriptor from offset 0: bytes. */
export function readCgroupPeakFd(fd: number): number {
  const buf = Buffer.alloc(64);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  const v = Number(buf.subarray(0, n).toString('latin1').trim());
  if (!Number.isSafeInteger(v)) throw new Error(`memory.peak: not a number (${JSON.stringify(buf.subarray(0, n).toString('latin1'))})`);
  return v;
}
