/**
 * `trimMalloc()`: glibc's `malloc_trim(0)`, with what it gave back.
 * glibc keeps freed memory inside its heaps; `malloc_trim` returns the top of
 * each heap with `brk`/`munmap` and, since glibc 2.8, every whole free page
 * inside them with `MADV_DONTNEED`. Only this process's own malloc: V8's
 * heap and pagewise's mappings are untouched.
 */
import { native } from '../native/binding';
import { pageSize } from '../kernel/system';
import { featureUnavailable } from '../errors';

/** What {@link trimMalloc} did. */
export interface TrimMallocResult {
  /** `malloc_trim`'s answer: whether glibc gave any memory back. */
  trimmed: boolean;
  /** Resident bytes of the whole process just before and after, from /proc/self/statm (exact sums since Linux 6.16). Other threads allocate meanwhile: the difference is the process's, not malloc's alone. */
  rssBefore: number;
  rssAfter: number;
  /** `rssBefore - rssAfter` (negative when other threads grew more than malloc gave back). */
  released: number;
  /** mallinfo2's `fordblks` (free bytes held in malloc's heaps) before and after; `null` without glibc 2.33+. */
  freeBefore: number | null;
  freeAfter: number | null;
  /** mallinfo2's `arena` (bytes of heap obtained by brk and mmap'd arenas) before and after; `null` without glibc 2.33+. */
  heapBefore: number | null;
  heapAfter: number | null;
  /** Where the RSS figures came from. */
  source: 'statm';
}

/**
 * Runs `malloc_trim(0)` and reports RSS and malloc's free bytes before and
 * after. Where the C library is not glibc, throws
 * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`.
 */
export function trimMalloc(): TrimMallocResult {
  const page = pageSize();
  const before = native.mallinfo2();
  const rssBefore = native.statmResident() * page;
  const rc = native.mallocTrim(0);
  const rssAfter = native.statmResident() * page;
  const after = native.mallinfo2();
  if (rc < 0) {
    throw featureUnavailable('trimMalloc needs glibc (malloc_trim); this C library has none');
  }
  return {
    trimmed: rc === 1,
    rssBefore,
    rssAfter,
    released: rssBefore - rssAfter,
    freeBefore: before?.fordblks ?? null,
    freeAfter: after?.fordblks ?? null,
    heapBefore: before?.arena ?? null,
    heapAfter: after?.arena ?? null,
    source: 'statm',
  };
}
