/**
 * Calls that can crash the process or corrupt it. Nothing here is needed for
 * normal use; each entry says why it is unsafe. Tests of these run in child
 * processes.
 */
import { native } from './native';
import { Mapping, asMapping, newMapping, type MmapOptions } from './mapping';
import { pageSize, roundUp } from './system';
import { protBits, type Prot } from './flags';
import { checkBigAddress, checkInteger, checkOptions, checkBoolean, checkObject, checkAligned, outOfRange } from './validate';

const C = native.constants as Record<string, number>;

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
  checkInteger('length', length, 1);
  const o = checkOptions<MmapOptions>('options', options, ['prot', 'shared', 'noReserve', 'populate', 'file']);
  const prot: Prot = o.prot ?? 'rw';
  const bits = protBits('options.prot', prot);
  const shared = o.shared === undefined ? false : checkBoolean('options.shared', o.shared);
  let flags = shared ? C.MAP_SHARED! : C.MAP_PRIVATE!;
  if (o.noReserve !== undefined && checkBoolean('options.noReserve', o.noReserve)) flags |= C.MAP_NORESERVE!;
  if (o.populate !== undefined && checkBoolean('options.populate', o.populate)) flags |= C.MAP_POPULATE!;
  let fd = -1;
  let off = 0;
  if (o.file !== undefined) {
    const f = checkObject<{ fd?: unknown; offset?: unknown }>('options.file', o.file);
    fd = checkInteger('options.file.fd', f.fd, 0, 2 ** 31 - 1);
    off = f.offset === undefined ? 0 : checkAligned('options.file.offset', f.offset, page);
  } else flags |= C.MAP_ANONYMOUS!;
  const len = roundUp(length, page);
  const region = native.unsafeMmapFixed(addr, len, bits, flags, fd, off);
  return newMapping(region, len, prot, page, { file: fd >= 0, shared, noReserve: (flags & C.MAP_NORESERVE!) !== 0, hugePages: false });
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
