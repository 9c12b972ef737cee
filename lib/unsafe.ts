/**
 * Calls that can crash the process or corrupt it. Nothing here is needed for
 * normal use; each entry says why it is unsafe. Tests of these run in child
 * processes.
 */
import { native } from './native/binding';
import { Mapping, asMapping, newMapping, decodeMapOptions, MMAP_OPTIONS, type MmapOptions } from './mapping';
import { pageSize } from './kernel/system';
import { checkBigAddress, checkInteger } from './validate';
import { outOfRange } from './errors';

/** Every mmap option but `address` (the call's own) and `name`. */
const FIXED_OPTIONS = MMAP_OPTIONS.filter((k) => k !== 'address' && k !== 'name');

/**
 * `sbrk(increment)`: moves the program break and returns the old one.
 *
 * Unsafe: glibc's malloc (used by Node, V8 and every addon) owns the break
 * without a lock we can take. Growing it races with malloc on other threads;
 * shrinking it below malloc's top makes glibc abort ("break adjusted to free
 * malloc space") or hands freed memory back while malloc still uses it.
 * Use it in a single-threaded child process, never in a live Node process.
 */
export function sbrk(increment: number): bigint {
  checkInteger('increment', increment, -Number.MAX_SAFE_INTEGER);
  return native.sbrk(increment);
}

/**
 * `brk(address)`: sets the program break. Unsafe for the same reasons as
 * {@link sbrk}.
 */
export function brk(address: bigint): void {
  native.brk(checkBigAddress('address', address));
}

/**
 * `mmap(MAP_FIXED)` at a caller's address. Unsafe: MAP_FIXED silently
 * replaces whatever is mapped there (the heap, code, V8's pages), which
 * crashes the process at the next touch of the replaced memory. Prefer
 * `mmap(length, { address })`, which uses MAP_FIXED_NOREPLACE and fails
 * with EEXIST instead.
 */
export function mmapFixed(address: bigint, length: number, options?: Omit<MmapOptions, 'address' | 'name'>): Mapping {
  const page = pageSize();
  const addr = checkBigAddress('address', address);
  if (addr % BigInt(page) !== 0n) throw outOfRange('address', `a multiple of the page size (${page})`, addr);
  const d = decodeMapOptions(length, options, FIXED_OPTIONS);
  const region = native.unsafeMmapFixed(addr, d.len, d.protNum, d.flags, d.fd, d.fileOffset);
  return newMapping(region, d.len, d.prot, page, { file: d.fd >= 0, shared: d.shared, noReserve: d.noReserve, hugePages: d.huge });
}

/**
 * A Uint8Array over any range of a mapping, whatever its protection.
 * Unsafe: Node 20 cannot make a read-only ArrayBuffer, so a JS write into a
 * range without PROT_WRITE (or any access to PROT_NONE) kills the process
 * with SIGSEGV. The view is still detached on unmap and on later
 * `protect()` calls that remove write permission.
 */
export function view(mapping: Mapping, offset = 0, length?: number): Uint8Array {
  const m = asMapping(mapping);
  const off = checkInteger('offset', offset, 0, m.length);
  const len = length === undefined ? m.length - off : checkInteger('length', length, 0, m.length - off);
  return new Uint8Array(native.regionBuffer(m.region, off, len));
}
