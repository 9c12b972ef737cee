/**
 * Shared memory between processes: `memfd_create` with file seals, POSIX
 * shared memory under `/dev/shm`, and descriptors received from another
 * process. Each is a {@link SharedMemory} whose `map()` makes a `MAP_SHARED`
 * {@link Mapping}. (Sharing with worker threads of the same process is
 * `mapping.share()` and `attach()`, in ./mapping.)
 *
 * The danger with shared files is SIGBUS: a page of a mapping that lies past
 * the end of its file faults with SIGBUS, and any process holding the
 * descriptor can `ftruncate` the file under everyone's mappings. A memfd
 * sealed with `F_SEAL_SHRINK` cannot be made smaller by anyone, so reads and
 * writes through its mappings never fault; pagewise seals every memfd it
 * makes that way and refuses descriptors that are not sealed unless the
 * caller accepts the risk.
 */
import * as fs from 'node:fs';
import { native } from '../native/binding';
import { mmap, type Mapping } from '../mapping';
import { pageSize, roundUp } from '../kernel/system';
import { checkBoolean, checkInteger, checkOptions, checkString } from '../validate';
import { invalidState, invalidType, invalidValue, outOfRange } from '../errors';
import { hugetlbDefaultSize } from '../kernel/facts';
import { readMapsText } from '../kernel/maps';
import { type Prot } from '../mapping/flags';

const S = native.sharedConstants;

/** A file seal (`F_SEAL_*`). */
export type Seal = 'seal' | 'shrink' | 'grow' | 'write' | 'future_write';

const SEAL_BITS: Readonly<Record<Seal, number>> = Object.freeze({
  seal: S.F_SEAL_SEAL,
  shrink: S.F_SEAL_SHRINK,
  grow: S.F_SEAL_GROW,
  write: S.F_SEAL_WRITE,
  future_write: S.F_SEAL_FUTURE_WRITE,
});
const SEAL_NAMES = Object.keys(SEAL_BITS) as Seal[];

function sealBits(name: string, seals: unknown): number {
  if (!Array.isArray(seals)) throw invalidType(name, `an array of seal names (${SEAL_NAMES.join(', ')})`, seals);
  let bits = 0;
  for (let i = 0; i < seals.length; i++) {
    const s: unknown = seals[i];
    if (typeof s !== 'string' || !Object.hasOwn(SEAL_BITS, s)) throw invalidValue(`${name}[${i}]`, `must be one of ${SEAL_NAMES.join(', ')}`, s);
    bits |= SEAL_BITS[s as Seal];
  }
  return bits;
}

function sealNames(bits: number): Seal[] {
  return SEAL_NAMES.filter((n) => (bits & SEAL_BITS[n]) !== 0);
}

/** Options of {@link memfd}. */
export interface MemfdOptions {
  /**
   * Seals applied once the memfd has its size. Default `['shrink', 'seal']`:
   * nobody can make it smaller (no SIGBUS for any process that maps it), and
   * no further seal can be added. Pass `['shrink']` to keep adding seals
   * with {@link SharedMemory.seal}, or `[]` for none (not recommended).
   */
  seals?: readonly Seal[];
  /** Back it with hugetlbfs pages (`MFD_HUGETLB`); the size must be a multiple of the huge page size. */
  hugePages?: boolean;
  /** With `hugePages`, the huge page size in bytes (default the kernel's, from /proc/meminfo). */
  hugePageSize?: number;
}

/** Options of {@link SharedMemory.map}. */
export interface MapSharedOptions {
  /** Bytes to map (default the whole size from `offset`). */
  length?: number;
  /** Page-aligned offset into the memory (default 0). */
  offset?: number;
  /** Protection, default `'rw'`. */
  prot?: Prot;
}

/** Options of {@link SharedMemory.fromFd}. */
export interface FromFdOptions {
  /**
   * Accept a descriptor that is not sealed against shrinking (a file, a POSIX
   * shm object, an unsealed memfd). Any process holding it can then truncate
   * it, and a read or write of a mapped page past the new end kills this
   * process with SIGBUS: nothing in user space can guard that.
   */
  allowShrink?: boolean;
}

/** Options of {@link shmOpen}. */
export interface ShmOpenOptions {
  /** Create it if it does not exist (`O_CREAT`); default false. */
  create?: boolean;
  /** With `create`, fail if it exists (`O_EXCL`); default false. */
  exclusive?: boolean;
  /** Set the size (`ftruncate`) after opening; required when it is created. */
  size?: number;
  /** Permission bits when it is created; default 0o600. */
  mode?: number;
}

const CONSTRUCT: unique symbol = Symbol('pagewise.SharedMemory');

/**
 * Memory that other processes can map: a descriptor (`fd`, pass it to a
 * child in `child_process.spawn`'s `stdio`) with a size, seals where the
 * kernel keeps them, and `map()`. `close()` closes the descriptor; mappings
 * made from it stay valid until they are unmapped.
 */
export class SharedMemory {
  #fd: number;
  #closed = false;
  #sealable: boolean;
  #huge: number | null;

  /** @internal Use {@link memfd}, {@link shmOpen} or {@link SharedMemory.fromFd}. */
  constructor(token: symbol, fd: number, sealable: boolean, huge: number | null) {
    if (token !== CONSTRUCT) throw invalidState('A SharedMemory is made by memfd(), shmOpen() or SharedMemory.fromFd()');
    this.#fd = fd;
    this.#sealable = sealable;
    this.#huge = huge;
  }

  #live(): void {
    if (!(#fd in this)) throw invalidType('this', 'a SharedMemory', this);
    if (this.#closed) throw invalidState('The shared memory descriptor is closed');
  }

  /** The descriptor (pass it to a child process; see docs/sharing.md). */
  get fd(): number {
    this.#live();
    return this.#fd;
  }

  /** The size in bytes now (`fstat`): another process may have grown it. */
  get size(): number {
    this.#live();
    return fs.fstatSync(this.#fd).size;
  }

  /** The seals in place (`F_GET_SEALS`), or `null` where the object cannot be sealed (a file, a POSIX shm object). */
  get seals(): Seal[] | null {
    this.#live();
    const bits = native.fcntlGetSeals(this.#fd);
    return bits < 0 ? null : sealNames(bits);
  }

  /**
   * Maps it `MAP_SHARED`: every process's writes are seen by every other.
   * Refuses (RangeError) a range past the current size, where a page would
   * be a SIGBUS on access.
   */
  map(options?: MapSharedOptions): Mapping {
    this.#live();
    const o = checkOptions<MapSharedOptions>('options', options, ['length', 'offset', 'prot']);
    const page = this.#huge ?? pageSize();
    const size = this.size;
    const offset = o.offset === undefined ? 0 : checkInteger('options.offset', o.offset, 0);
    if (offset % page !== 0) throw outOfRange('options.offset', `a multiple of the page size (${page})`, offset);
    const max = Math.max(0, roundUp(size, page) - offset);
    if (max === 0) throw outOfRange('options.offset', `below the size rounded up to a page (${roundUp(size, page)})`, offset);
    const length = o.length === undefined ? max : checkInteger('options.length', o.length, 1, max);
    return mmap(length, { shared: true, prot: o.prot ?? 'rw', file: { fd: this.#fd, offset }, ...(this.#huge !== null ? { hugePages: true, hugePageSize: this.#huge } : {}) });
  }

  /** Adds seals (`F_ADD_SEALS`); EPERM once `'seal'` is in place. */
  seal(...seals: Seal[]): this {
    this.#live();
    if (!this.#sealable) throw invalidState('This object cannot be sealed (only a memfd made with sealing allowed can)');
    native.fcntlAddSeals(this.#fd, sealBits('seals', seals));
    return this;
  }

  /** Sets the size (`ftruncate`): EPERM when a seal forbids the change. Mappings do not grow with it: `mapping.resize()`. */
  resize(size: number): this {
    this.#live();
    checkInteger('size', size, 0);
    this.#checkShrink(size);
    try {
      fs.ftruncateSync(this.#fd, size);
    } catch (err) {
      throw systemError(err, 'ftruncate');
    }
    return this;
  }

  /**
   * Refuses (ERR_INVALID_STATE) to shrink the object under a mapping this
   * process has of it: touching a mapped page past the new end is a SIGBUS
   * that kills the process. The mappings are read from the kernel's list
   * (`/proc/self/maps`, matched by device and inode), so every mapping of
   * the object counts, whichever SharedMemory or call made it.
   */
  #checkShrink(size: number): void {
    const st = fs.fstatSync(this.#fd);
    if (size >= st.size) return;
    // Sealed against shrinking: the kernel refuses (EPERM), nothing to check.
    const seals = this.#sealable ? native.fcntlGetSeals(this.#fd) : -1;
    if (seals >= 0 && (seals & SEAL_BITS.shrink) !== 0) return;
    const page = this.#huge ?? pageSize();
    const end = BigInt(roundUp(size, page));
    const dev = devText(st.dev);
    for (const e of readMapsText('self')) {
      if (e.inode !== st.ino || e.dev !== dev) continue;
      const reach = e.offset + BigInt(e.size);
      if (reach > end) {
        throw invalidState(
          `Cannot shrink to ${size} bytes: this process maps the object up to byte ${reach} (at 0x${e.start.toString(16)}), and touching a page past the new end would be a SIGBUS; unmap() those mappings (or resize() them below ${end}) first`,
        );
      }
    }
  }

  /** Closes the descriptor (mappings stay). A second call does nothing. */
  close(): void {
    if (!(#fd in this)) throw invalidType('this', 'a SharedMemory', this);
    if (this.#closed) return;
    this.#closed = true;
    fs.closeSync(this.#fd);
  }

  /** `using shm = memfd(...)` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Wraps a descriptor received from another process (the child side of
   * `spawn`'s `stdio`: `SharedMemory.fromFd(3)`). Reads its size and seals and
   * refuses (`ERR_INVALID_STATE`) one that is not sealed against shrinking,
   * unless `{ allowShrink: true }` accepts the SIGBUS risk. Takes ownership:
   * `close()` closes it.
   */
  static fromFd(fd: number, options?: FromFdOptions): SharedMemory {
    checkInteger('fd', fd, 0, 2 ** 31 - 1);
    const o = checkOptions<FromFdOptions>('options', options, ['allowShrink']);
    const allow = o.allowShrink === undefined ? false : checkBoolean('options.allowShrink', o.allowShrink);
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch (err) {
      throw systemError(err, 'fstat');
    }
    if (!st.isFile()) throw invalidValue('fd', 'is not a memfd, shm object or regular file', fd);
    const bits = native.fcntlGetSeals(fd);
    const shrinkSealed = bits >= 0 && (bits & SEAL_BITS.shrink) !== 0;
    if (!shrinkSealed && !allow) {
      throw invalidState(
        `Descriptor ${fd} is not sealed against shrinking (${bits < 0 ? 'it cannot be sealed: not a memfd' : 'no F_SEAL_SHRINK'}): ` +
          'any process holding it can truncate it, and touching a mapped page past the new end is a SIGBUS that kills this process. ' +
          'Pass { allowShrink: true } to accept that risk',
      );
    }
    return new SharedMemory(CONSTRUCT, fd, bits >= 0, null);
  }
}

/** A device number as `/proc/PID/maps` writes it: `major:minor` in hex, at least two digits each. */
function devText(dev: number): string {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

function systemError(err: unknown, syscall: string): Error {
  const e = err as Error & { code?: string; errno?: number; syscall?: string };
  if (typeof e.code === 'string' && e.syscall === undefined) e.syscall = syscall;
  return e;
}

const MEMFD_NAME = /^[\x20-\x7e]{0,249}$/;

/**
 * A memfd of `size` bytes (`memfd_create`), sealed against shrinking by
 * default so no process that maps it can be killed by SIGBUS. Its `fd` can
 * be passed to child processes; `map()` maps it.
 *
 * @example
 * const shm = memfd('frames', 64 << 20);
 * const m = shm.map();
 * spawn(process.execPath, ['child.js'], { stdio: ['inherit', 'inherit', 'inherit', shm.fd] });
 */
export function memfd(name: string, size: number, options?: MemfdOptions): SharedMemory {
  checkString('name', name);
  if (!MEMFD_NAME.test(name)) throw invalidValue('name', 'must be at most 249 printable ASCII characters', name);
  checkInteger('size', size, 0);
  const o = checkOptions<MemfdOptions>('options', options, ['seals', 'hugePages', 'hugePageSize']);
  const seals = o.seals === undefined ? SEAL_BITS.shrink | SEAL_BITS.seal : sealBits('options.seals', o.seals);
  const huge = o.hugePages === undefined ? false : checkBoolean('options.hugePages', o.hugePages);
  let flags = S.MFD_CLOEXEC | S.MFD_ALLOW_SEALING;
  let hugeSize: number | null = null;
  if (o.hugePageSize !== undefined && !huge) throw invalidValue('options.hugePageSize', 'needs options.hugePages: true', o.hugePageSize);
  if (huge) {
    hugeSize = o.hugePageSize === undefined ? hugetlbDefaultSize() : checkInteger('options.hugePageSize', o.hugePageSize, pageSize());
    if (hugeSize === null) throw invalidState('hugetlbfs is not available (no Hugepagesize in /proc/meminfo)');
    const log = Math.log2(hugeSize);
    if (!Number.isInteger(log)) throw outOfRange('options.hugePageSize', 'a power of two', hugeSize);
    if (size % hugeSize !== 0) throw outOfRange('size', `a multiple of the huge page size (${hugeSize})`, size);
    flags |= S.MFD_HUGETLB | (log << 26); // MFD_HUGE_SHIFT
  }
  const fd = native.memfdCreate(name, flags);
  try {
    if (size > 0) fs.ftruncateSync(fd, size);
    if (seals !== 0) native.fcntlAddSeals(fd, seals);
  } catch (err) {
    fs.closeSync(fd);
    throw systemError(err, 'ftruncate');
  }
  return new SharedMemory(CONSTRUCT, fd, true, hugeSize);
}


const SHM_DIR = '/dev/shm';
const SHM_NAME = /^\/?[^/\0]{1,255}$/;

function shmPath(name: unknown): string {
  const n = checkString('name', name);
  if (!SHM_NAME.test(n) || n.replace(/^\//, '') === '.' || n.replace(/^\//, '') === '..') {
    throw invalidValue('name', 'must be 1-255 characters with no "/" (other than a leading one)', name);
  }
  return `${SHM_DIR}/${n.replace(/^\//, '')}`;
}

/**
 * Opens (or creates) POSIX shared memory `name` under /dev/shm, for
 * unrelated processes that agree on a name. Such objects cannot be sealed:
 * any process with access can truncate one under everyone's mappings, and a
 * mapped page past the new end is then a SIGBUS for every process touching
 * it. Prefer {@link memfd} with a descriptor passed to the processes that
 * need it; use this only among processes you trust.
 */
export function shmOpen(name: string, options?: ShmOpenOptions): SharedMemory {
  const file = shmPath(name);
  const o = checkOptions<ShmOpenOptions>('options', options, ['create', 'exclusive', 'size', 'mode']);
  const create = o.create === undefined ? false : checkBoolean('options.create', o.create);
  const exclusive = o.exclusive === undefined ? false : checkBoolean('options.exclusive', o.exclusive);
  const size = o.size === undefined ? undefined : checkInteger('options.size', o.size, 0);
  const mode = o.mode === undefined ? 0o600 : checkInteger('options.mode', o.mode, 0, 0o7777);
  if (exclusive && !create) throw invalidValue('options.exclusive', 'needs options.create: true', o.exclusive);
  const flags = fs.constants.O_RDWR | (create ? fs.constants.O_CREAT : 0) | (exclusive ? fs.constants.O_EXCL : 0) | fs.constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = fs.openSync(file, flags, mode);
  } catch (err) {
    throw systemError(err, 'open');
  }
  try {
    if (size !== undefined) fs.ftruncateSync(fd, size);
  } catch (err) {
    fs.closeSync(fd);
    throw systemError(err, 'ftruncate');
  }
  return new SharedMemory(CONSTRUCT, fd, false, null);
}

/** Removes POSIX shared memory `name` (mappings and open descriptors keep it until they go). */
export function shmUnlink(name: string): void {
  try {
    fs.unlinkSync(shmPath(name));
  } catch (err) {
    throw systemError(err, 'unlink');
  }
}
