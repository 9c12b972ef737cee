/**
 * The options of `mmap()` and `unsafe.mmapFixed()`, decoded in one place into
 * what the kernel is asked for ({@link decodeMapOptions}).
 */
import * as fs from 'node:fs';
import { native } from '../native/binding';
import { requireFeature } from '../kernel/features';
import { hugetlbDefaultSize } from '../kernel/facts';
import { pageSize, roundUp } from '../kernel/system';
import { protBits, type Prot } from './flags';
import { checkAligned, checkBigAddress, checkBoolean, checkInteger, checkObject, checkOptions, checkString } from '../validate';
import { invalidValue, outOfRange } from '../errors';

const C = native.constants;

/** Options of {@link mmap}. */
export interface MmapOptions {
  /** Protection, default `'rw'`. JS sees buffers only over writable ranges (see {@link Mapping.buffer}). */
  prot?: Prot;
  /** `MAP_SHARED` instead of the default `MAP_PRIVATE` (copy-on-write). */
  shared?: boolean;
  /** `MAP_NORESERVE`: not charged to the commit limit (honoured unless `vm.overcommit_memory=2`). */
  noReserve?: boolean;
  /** `MAP_POPULATE`: prefault every page now. */
  populate?: boolean;
  /** `MAP_HUGETLB`: back with hugetlbfs pages (fails with ENOMEM unless the kernel has some reserved). */
  hugePages?: boolean;
  /** With `hugePages`, the huge page size in bytes (`MAP_HUGE_2MB`, `MAP_HUGE_1GB`, ...); default the kernel's. */
  hugePageSize?: number;
  /** Map a file instead of anonymous memory: an open descriptor and a page-aligned offset. */
  file?: { fd: number; offset?: number };
  /** Place the mapping exactly here with `MAP_FIXED_NOREPLACE`; fails with EEXIST if anything is there. */
  address?: bigint;
  /**
   * Name the region with `PR_SET_VMA_ANON_NAME` (anonymous private mappings,
   * Linux 5.17+ with CONFIG_ANON_VMA_NAME); shows as `[anon:NAME]`. Best
   * effort: where the kernel cannot, the mapping is made unnamed and
   * {@link Mapping.label} is `null`. Use {@link Mapping.name} to get the error.
   * Unset, anonymous private memory is named `pagewise` where the kernel
   * can (so `explain --pid` from another process counts it as pagewise's);
   * `m.name(null)` clears it.
   */
  name?: string;
  /**
   * `MAP_DROPPABLE` (Linux 6.11+, anonymous memory only): the kernel may drop
   * these pages under memory pressure instead of swapping them, and a page
   * dropped reads back as zeros. For caches a reader can rebuild: check what
   * you read (a checksum, a non-zero header) before trusting it. Not charged
   * to mlock or the commit limit the usual way. Throws
   * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` where the kernel lacks it.
   */
  droppable?: boolean;
}

export const MMAP_OPTIONS = ['prot', 'shared', 'noReserve', 'populate', 'hugePages', 'hugePageSize', 'file', 'address', 'name', 'droppable'] as const;

const NAME_RE = /^[\x20-\x7e]*$/;

/** @internal Shared name check (also used by the arena). */
export function checkVmaName(value: unknown): string {
  const name = checkString('name', value);
  // Kernel rules (mm/madvise.c): at most 79 bytes, printable, none of \`$[]
  if (name.length > 79 || !NAME_RE.test(name) || /[\\`$[\]]/.test(name)) {
    throw invalidValue('name', 'must be at most 79 printable ASCII characters without \\ ` $ [ ]', value);
  }
  return name;
}


/** What {@link decodeMapOptions} asks the kernel for. @internal */
export interface DecodedMap {
  /** The length rounded up to whole pages (or huge pages). */
  len: number;
  prot: Prot;
  protNum: number;
  flags: number;
  /** -1 for anonymous memory. */
  fd: number;
  fileOffset: number;
  /** The MAP_FIXED_NOREPLACE address, 0n for none. */
  hint: bigint;
  name: string | undefined;
  shared: boolean;
  noReserve: boolean;
  huge: boolean;
  /** Bytes to report to V8 as committed (0 for a NORESERVE or PROT_NONE reservation). */
  report: number;
}

/**
 * Validates `length` and `options` and works out the mmap arguments. `allowed`
 * names the options the caller takes (`unsafe.mmapFixed` takes every one but
 * `address` and `name`); every check is the same for both. @internal
 */
export function decodeMapOptions(length: number, options: unknown, allowed: readonly (keyof MmapOptions)[] = MMAP_OPTIONS): DecodedMap {
  const page = pageSize();
  checkInteger('length', length, 1);
  const o = checkOptions<MmapOptions>('options', options, allowed);
  const prot: Prot = o.prot === undefined ? 'rw' : o.prot;
  const protNum = protBits('options.prot', prot);
  const shared = o.shared === undefined ? false : checkBoolean('options.shared', o.shared);
  const noReserve = o.noReserve === undefined ? false : checkBoolean('options.noReserve', o.noReserve);
  const populate = o.populate === undefined ? false : checkBoolean('options.populate', o.populate);
  const huge = o.hugePages === undefined ? false : checkBoolean('options.hugePages', o.hugePages);
  let align = page;
  let flags = (shared ? C.MAP_SHARED : C.MAP_PRIVATE) | (noReserve ? C.MAP_NORESERVE : 0) | (populate ? C.MAP_POPULATE : 0);
  if (o.hugePageSize !== undefined) {
    if (!huge) throw invalidValue('options.hugePageSize', 'needs options.hugePages: true', o.hugePageSize);
    align = checkInteger('options.hugePageSize', o.hugePageSize, page);
    flags |= hugeFlag(align);
  } else if (huge) {
    const pools = hugetlbDefaultSize();
    align = pools ?? page;
  }
  if (huge) flags |= C.MAP_HUGETLB;
  // hugetlbfs pages not reserved at mmap time are a SIGBUS on first touch
  // when the pool is empty: without the reservation there is no safe way.
  if (huge && noReserve) throw invalidValue('options.noReserve', 'cannot be combined with hugePages (an unreserved hugetlbfs page is a SIGBUS on first touch when the pool is empty)', o.noReserve);
  let fd = -1;
  let fileOffset = 0;
  if (o.file !== undefined) {
    const f = checkObject<{ fd?: unknown; offset?: unknown }>('options.file', o.file);
    for (const key of Object.keys(f)) if (key !== 'fd' && key !== 'offset') throw invalidValue('options.file', `has an unknown option "${key}" (known: fd, offset)`, o.file);
    fd = checkInteger('options.file.fd', f.fd, 0, 2 ** 31 - 1);
    fileOffset = f.offset === undefined ? 0 : checkAligned('options.file.offset', f.offset, page);
  } else {
    flags |= C.MAP_ANONYMOUS;
  }
  let hint = 0n;
  if (o.address !== undefined) {
    hint = checkBigAddress('options.address', o.address);
    if (hint === 0n) throw outOfRange('options.address', 'a non-zero address (no ArrayBuffer can start at address 0)', hint);
    if (hint % BigInt(page) !== 0n) throw outOfRange('options.address', `a multiple of the page size (${page})`, hint);
    flags |= C.MAP_FIXED_NOREPLACE;
  }
  const name = o.name === undefined ? undefined : checkVmaName(o.name);
  if (o.droppable !== undefined && checkBoolean('options.droppable', o.droppable)) {
    if (fd >= 0 || shared || huge) throw invalidValue('options.droppable', 'needs anonymous private memory (no file, shared or hugePages)', o.droppable);
    requireFeature('droppable');
    // MAP_DROPPABLE is a mapping type of its own, in place of MAP_PRIVATE.
    flags = (flags & ~C.MAP_PRIVATE) | native.uapiConstants.MAP_DROPPABLE;
  }
  const len = roundUp(length, align);
  if (!Number.isSafeInteger(len)) throw outOfRange('length', `<= ${Number.MAX_SAFE_INTEGER - align}`, length);
  if (fd >= 0) checkInsideFile(fd, fileOffset, len, page);
  // Report committed memory to V8 so its GC weighs the mapping; a
  // NORESERVE or PROT_NONE reservation is address space, not memory.
  const report = noReserve || prot === 'none' ? 0 : len;
  return { len, prot, protNum, flags, fd, fileOffset, hint, name, shared, noReserve, huge, report };
}

function hugeFlag(size: number): number {
  const log = Math.log2(size);
  if (!Number.isInteger(log)) throw outOfRange('hugePageSize', 'a power of two', size);
  return log << C.MAP_HUGE_SHIFT;
}

/**
 * A page of a file mapping that lies wholly past the end of the file is a
 * SIGBUS on access, so a mapping of a regular file must end within the
 * file's last page. (A file truncated after it was mapped cannot be guarded
 * against: see docs/reliability.md.) When fstat fails, mmap
 * reports the descriptor's error itself.
 */
function checkInsideFile(fd: number, offset: number, len: number, page: number): void {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch {
    return;
  }
  if (!st.isFile()) return;
  const end = roundUp(st.size, page);
  if (offset + len > end) {
    throw outOfRange('length', `<= ${Math.max(0, end - offset)} (the file's ${st.size} bytes from offset ${offset}, rounded up to a page; a page past the end of a file is a SIGBUS on access)`, len);
  }
}
