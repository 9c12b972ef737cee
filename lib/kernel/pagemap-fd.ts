/** A kept read descriptor of /proc/self/pagemap, for `ioctl(PAGEMAP_SCAN)` (Linux 6.7+). */
import * as fs from 'node:fs';
import { procPath } from './parse';

let fd = -1;

/** The descriptor, opened on first use and kept for the life of the process. */
export function pagemapFd(): number {
  if (fd < 0) fd = fs.openSync(procPath('self', 'pagemap'), 'r');
  return fd;
}
