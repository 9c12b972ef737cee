/** `memfd_secret` memory: removed from the kernel's direct map. */
import * as fs from 'node:fs';
import { native } from '../native/binding';
import { type Mapping, mmap } from './';
import { requireFeature } from '../kernel/features';
import { checkInteger } from '../validate';
import { pageSize, roundUp } from '../kernel/system';

/**
 * Memory removed from the kernel's direct map (`memfd_secret`, Linux 5.14+
 * booted with `secretmem.enable=1`): no other process, and not the kernel
 * through its direct map, can read it; it is never swapped. Returns a
 * shared Mapping of `size` bytes (the descriptor is closed). Elsewhere throws
 * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` naming the boot parameter.
 */
export function secretMemory(size: number): Mapping {
  checkInteger('size', size, 1);
  requireFeature('secretMemory');
  const fd = native.memfdSecret(0x80000 /* O_CLOEXEC */);
  try {
    fs.ftruncateSync(fd, roundUp(size, pageSize()));
    return mmap(size, { shared: true, file: { fd } });
  } finally {
    fs.closeSync(fd);
  }
}
