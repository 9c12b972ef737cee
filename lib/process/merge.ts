/** Kernel Samepage Merging for the whole process (`prctl(PR_SET_MEMORY_MERGE)`). */
import { native } from '../native/binding';
import { requireFeature } from '../kernel/features';
import { checkBoolean } from '../validate';

/**
 * Opts the whole process in to Kernel Samepage Merging, or out
 * (`prctl(PR_SET_MEMORY_MERGE, on)`, Linux 6.4 with `CONFIG_KSM`): every
 * mapping it has and will have becomes a KSM candidate, without
 * `madvise(MADV_MERGEABLE)` per range. Merging happens only while ksmd runs
 * (`/sys/kernel/mm/ksm/run` = 1); `ksmStat().mergeAny` shows the state.
 * Returns the state read back (`PR_GET_MEMORY_MERGE`). Where the kernel
 * lacks it throws `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`; a refusal (`EPERM`
 * under a seccomp or LSM policy, `EINVAL`) is thrown with `code`, `errno`
 * and `syscall: 'prctl'`.
 */
export function memoryMerge(on: boolean): boolean {
  checkBoolean('on', on);
  requireFeature('memoryMerge');
  native.prctlSetMemoryMerge(on ? 1 : 0);
  return native.prctlGetMemoryMerge() === 1;
}

/** Whether the process is opted in to KSM as a whole (`PR_GET_MEMORY_MERGE`, Linux 6.4); throws like {@link memoryMerge}. */
export function memoryMergeEnabled(): boolean {
  requireFeature('memoryMerge');
  return native.prctlGetMemoryMerge() === 1;
}
