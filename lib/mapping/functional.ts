/**
 * `mmap()` and the functional forms of the `Mapping` methods.
 */
import * as fs from 'node:fs';
import { native } from '../native/binding';
import { vmaNamesSupported } from '../kernel/features';
import { readMapsText } from '../kernel/maps';
import { fmtBytes } from '../format';
import { pageSize } from '../kernel/system';
import type { Advice, Prot } from './flags';
import { decodeMapOptions, type MmapOptions } from './map-options';
import { Mapping, asMapping, newMapping, setMappingFile } from './mapping';
import type { LockOptions, SyncOptions } from './method-options';
import { checkToken, kindBits, type ShareToken } from '../sharing/share';

/**
 * Maps `length` bytes (rounded up to whole pages): anonymous memory by
 * default, a file with `options.file`. Returns a {@link Mapping}.
 *
 * @example
 * const m = mmap(1 << 30, { noReserve: true });
 * m.residentPages(); // 0: nothing is resident until touched
 */
export function mmap(length: number, options?: MmapOptions): Mapping {
  const page = pageSize();
  const { len, prot, protNum, flags, fd, fileOffset, hint, name, shared, noReserve, huge, report } = decodeMapOptions(length, options);
  let region;
  try {
    region = native.mmap(len, protNum, flags, fd, fileOffset, hint, report);
  } catch (err) {
    throw beyondAddressSpace(err, len);
  }
  const m = newMapping(region, len, prot, page, { file: fd >= 0, shared, noReserve, hugePages: huge });
  if (fd >= 0) {
    try {
      const st = fs.fstatSync(fd);
      setMappingFile(m, { fd, offset: fileOffset, dev: st.dev, ino: st.ino });
    } catch {
      // fstat failed after mmap succeeded: resize() will ask for { fd }.
    }
  }
  if (name !== undefined) {
    if (vmaNamesSupported()) m.name(name);
  } else if (fd < 0 && !shared && !huge && len >= DEFAULT_NAME_MIN_PAGES * page && vmaNamesSupported()) {
    // Named by default, so that another process reading /proc/PID/maps (explain --pid) sees pagewise's memory as
    // pagewise's. Best effort: a mapping the kernel will not name stays unnamed, with no error. The prctl (a third
    // system call, taking the mmap lock for writing) would be a noticeable part of a one-page mmap+unmap from JS:
    // small mappings are left unnamed (docs/mappings.md).
    try {
      m.name(DEFAULT_VMA_NAME);
    } catch {
      // unnamed: label stays null
    }
  }
  return m;
}

/**
 * The name `mmap()` gives anonymous private memory of at least
 * {@link DEFAULT_NAME_MIN_PAGES} pages when `options.name` is not set
 * (`[anon:pagewise]`), where the kernel names memory
 * ({@link vmaNamesSupported}); arenas name theirs `pagewise:NAME`.
 */
export const DEFAULT_VMA_NAME = 'pagewise';

/** The fewest pages `mmap()` names by default: below, the extra prctl would be a noticeable part of the call, and the memory little. */
export const DEFAULT_NAME_MIN_PAGES = 16;

export { vmaNamesSupported };

/**
 * ENOMEM for a length more than the address space mmap places mappings in
 * (its top is where the stack ends, [vsyscall] aside: 2^47 bytes on x86-64
 * with 4-level page tables) names that, not the commit limit.
 */
function beyondAddressSpace(err: unknown, len: number): unknown {
  const e = err as NodeJS.ErrnoException;
  // Below 256 GiB no 64-bit Linux runs out of address space (39-bit arm64 has 512 GiB): no read of the maps
  // then, which matters when ENOMEM means vm.max_map_count and the maps hold 65,000 lines.
  if (e?.code !== 'ENOMEM' || typeof e.message !== 'string' || len < 2 ** 38) return err;
  let top = 0n;
  try {
    for (const x of readMapsText('self')) if (x.pathname !== '[vsyscall]' && x.end > top) top = x.end;
  } catch {
    return err;
  }
  if (top === 0n || BigInt(len) < top) return err;
  e.message = `${e.message.replace(/ \(the commit limit[^]*$/, '')} (the length is more than this process's whole address space: mappings end below 0x${top.toString(16)}, ${fmtBytes(Number(top))})`;
  return e;
}

/**
 * The Mapping of another thread's {@link Mapping.share} token, over the same
 * memory at the same address. Throws `ERR_INVALID_STATE` when every thread
 * that held the memory has let go of it.
 */
export function attach(token: ShareToken): Mapping {
  const t = checkToken(token);
  // The registry compares every field with its entry (ERR_INVALID_ARG_VALUE
  // when one differs), so the Mapping below has the memory's true geometry.
  const region = native.regionAttach(t.id, t.length, kindBits(t.kind), t.pageSize);
  return newMapping(region, t.length, 'rw', t.pageSize, t.kind);
}

/** Functional form of {@link Mapping.unmap}. */
export function munmap(mapping: Mapping): number {
  return asMapping(mapping).unmap();
}

/** Functional form of {@link Mapping.advise}. */
export function madvise(mapping: Mapping, advice: Advice, offset?: number, length?: number): void {
  asMapping(mapping).advise(advice, offset, length);
}
/** Functional form of {@link Mapping.protect}. */
export function mprotect(mapping: Mapping, prot: Prot, offset?: number, length?: number): void {
  asMapping(mapping).protect(prot, offset, length);
}
/** Functional form of {@link Mapping.residencyVector}: the `mincore` vector. */
export function mincore(mapping: Mapping, offset?: number, length?: number): Uint8Array {
  return asMapping(mapping).residencyVector(offset, length);
}
/** Functional form of {@link Mapping.lock}. */
export function mlock(mapping: Mapping, options?: LockOptions, offset?: number, length?: number): void {
  asMapping(mapping).lock(options, offset, length);
}
/** Functional form of {@link Mapping.unlock}. */
export function munlock(mapping: Mapping, offset?: number, length?: number): void {
  asMapping(mapping).unlock(offset, length);
}
/** Functional form of {@link Mapping.sync}. */
export function msync(mapping: Mapping, options?: SyncOptions, offset?: number, length?: number): void {
  asMapping(mapping).sync(options, offset, length);
}
