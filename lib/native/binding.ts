/**
 * The one place the binary is loaded: `prebuilds/<platform>-<arch>/` first
 * (prebuildify, Node-API: one binary serves every Node version), else the
 * node-gyp build found by `bindings`. A node-gyp build newer than the
 * prebuilds wins (you just compiled it). Setting `PAGEWISE_FROM_SOURCE=1`
 * skips the prebuilds (the test suite does, so it tests what it just
 * compiled); `PAGEWISE_BINARY=/path/file.node` loads exactly that file.
 * @internal
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import bindings from 'bindings';
import { packageRoot } from './package-root';
import { pagewiseError } from '../errors';

declare const regionBrand: unique symbol;
/** Opaque handle of a native Region (one mmap'd range). @internal */
export interface RegionHandle {
  readonly [regionBrand]: true;
}

/**
 * The platform's constants (native/constants.cc), from the build machine's
 * headers, with the kernel's uapi value where old headers lack one: every key
 * is always there (whether the running kernel supports a flag is asked at run
 * time: madviseProbe, lib/features.ts). A type, not an interface, so that it
 * still converts to `Record<string, number>`.
 * @internal
 */
export type NativeConstants = {
  readonly [K in
    | 'PROT_NONE' | 'PROT_READ' | 'PROT_WRITE' | 'PROT_EXEC'
    | 'MAP_SHARED' | 'MAP_PRIVATE' | 'MAP_ANONYMOUS' | 'MAP_FIXED' | 'MAP_FIXED_NOREPLACE'
    | 'MAP_NORESERVE' | 'MAP_POPULATE' | 'MAP_HUGETLB' | 'MAP_HUGE_SHIFT' | 'MAP_LOCKED'
    | 'MAP_GROWSDOWN' | 'MAP_STACK'
    | 'MADV_NORMAL' | 'MADV_RANDOM' | 'MADV_SEQUENTIAL' | 'MADV_WILLNEED' | 'MADV_DONTNEED'
    | 'MADV_FREE' | 'MADV_REMOVE' | 'MADV_DONTFORK' | 'MADV_DOFORK' | 'MADV_MERGEABLE'
    | 'MADV_UNMERGEABLE' | 'MADV_HUGEPAGE' | 'MADV_NOHUGEPAGE' | 'MADV_DONTDUMP' | 'MADV_DODUMP'
    | 'MADV_WIPEONFORK' | 'MADV_KEEPONFORK' | 'MADV_COLD' | 'MADV_PAGEOUT'
    | 'MADV_POPULATE_READ' | 'MADV_POPULATE_WRITE' | 'MADV_COLLAPSE'
    | 'MS_ASYNC' | 'MS_SYNC' | 'MS_INVALIDATE'
    | 'RUSAGE_SELF' | 'RUSAGE_CHILDREN' | 'RUSAGE_THREAD'
    | 'RLIMIT_AS' | 'RLIMIT_DATA' | 'RLIMIT_MEMLOCK']: number;
};

/** Constants of native/shared.cc (memfd, seals, mremap); every key always there. @internal */
export type NativeSharedConstants = {
  readonly [K in
    | 'MFD_CLOEXEC' | 'MFD_ALLOW_SEALING' | 'MFD_HUGETLB'
    | 'F_SEAL_SEAL' | 'F_SEAL_SHRINK' | 'F_SEAL_GROW' | 'F_SEAL_WRITE' | 'F_SEAL_FUTURE_WRITE'
    | 'MREMAP_MAYMOVE' | 'MREMAP_DONTUNMAP']: number;
};

/** Constants of native/constants.cc for the calls newer than most headers (values in native/uapi.h); every key always there. @internal */
export type NativeUapiConstants = {
  readonly [K in
    | 'MADV_GUARD_INSTALL' | 'MADV_GUARD_REMOVE' | 'MAP_DROPPABLE'
    | 'PROCMAP_QUERY_VMA_READABLE' | 'PROCMAP_QUERY_VMA_WRITABLE' | 'PROCMAP_QUERY_VMA_EXECUTABLE'
    | 'PROCMAP_QUERY_VMA_SHARED']: number;
};

/** glibc's mallinfo2() figures (native/measure.cc). @internal */
export interface NativeMallinfo {
  arena: number;
  ordblks: number;
  hblks: number;
  hblkhd: number;
  uordblks: number;
  fordblks: number;
  keepcost: number;
}

/**
 * The core binary's functions, all of them (native/*.cc; native/pagewise.h
 * states their contract). The lab binary has its own (lib/native-lab.ts).
 * @internal
 */
export interface Native {
  mmap(length: number, prot: number, flags: number, fd: number, offset: number, hint: bigint, report: number): RegionHandle;
  munmap(r: RegionHandle, privateAnonRW?: boolean): number;
  regionBuffer(r: RegionHandle, offset: number, length: number): ArrayBuffer;
  regionDetach(r: RegionHandle, offset: number, length: number): number;
  detachArrayBuffer(ab: ArrayBuffer): void;
  regionAddress(r: RegionHandle): bigint;
  /** Whether guard pages were ever installed in the region through pagewise (sticky). */
  regionGuarded(r: RegionHandle): boolean;
  /** Returns false when a live or escaped buffer kept the range read-write (zero-filled) instead of `prot`. */
  regionRemap(r: RegionHandle, offset: number, length: number, prot: number, flags: number): boolean;
  /** Whether a buffer over the range escaped (transfer()): write access must not be removed. */
  /** 0: no buffer over the range escaped; 1: one did (transfer()); 2: only views collected while their store's release is still queued. */
  regionEscaped(r: RegionHandle, offset: number, length: number): 0 | 1 | 2;
  /** The process's mapping count, vm.max_map_count and the margin pagewise keeps under it. */
  mapHeadroom(): { count: number; limit: number; margin: number };
  /** Records which buffers escaped, at a worker's 'exit' (see native/region.cc, BufferFinalize). */
  regionsSampleEscapes(): number;
  /** The address ranges the regions of every thread (main and workers) hold: `[start, end, start, end, ...]`. */
  regionsHeld(): BigUint64Array;
  /** Makes (or refreshes) the registry entry of a region's memory, with the token's kind bits and page size; returns its random id. */
  regionShare(r: RegionHandle, kind: number, pageSize: number): bigint;
  /** A region over the shared memory whose entry matches every field of the token. */
  regionAttach(id: bigint, length: number, kind: number, pageSize: number): RegionHandle;
  regionSharedRefs(r: RegionHandle): number;
  regionSharedBuffer(r: RegionHandle): SharedArrayBuffer | undefined;
  sharedBufferSupported(): boolean;
  regionResize(r: RegionHandle, length: number, mayMove: boolean, shared: boolean, tailProt: number, tailFlags: number, privateAnonRW: boolean, file: boolean): bigint;
  memfdCreate(name: string, flags: number): number;
  fcntlAddSeals(fd: number, seals: number): void;
  /** The seals, or -EINVAL's value (negative) when the descriptor cannot have seals. */
  fcntlGetSeals(fd: number): number;
  sharedConstants: NativeSharedConstants;
  /** mseal(2) over the whole region (Linux 6.10): munmap, mprotect and mremap refused for the life of the process. */
  mseal(r: RegionHandle): void;
  msealProbe(): number;
  processMadviseOwn(regions: unknown[], offsets: number[], lengths: number[], advice: number): [number, number];
  processMadviseProbe(advice: number): number;
  /** [start, end, flags, pageSize, offset, inode, devMajor, devMinor, nameLength], or null (ENOENT). */
  procmapQuery(fd: number, address: bigint, next: boolean, name: Uint8Array): [bigint, bigint, number, number, bigint, number, number, number, number] | null;
  memfdSecret(flags: number): number;
  uapiConstants: NativeUapiConstants;
  /** Sets how many bytes of the region are reported to V8 (napi_adjust_external_memory). */
  regionReport(r: RegionHandle, bytes: number): void;
  /** Guard-page ranges [start, end, ...] in [start, end) by PAGEMAP_SCAN PAGE_IS_GUARD, or the errno where the kernel lacks it. */
  pagemapGuardScan(pagemapFd: number, start: bigint, end: bigint): bigint[] | number;
  /**
   * One pass over smaps bytes: per mapping 23 numbers in `out` (mapping line start and end offsets; Rss, Pss, Private_Clean,
   * Private_Dirty, Swap, AnonHugePages, KSM in bytes or -1; VmFlags values start and end or -1; then 1 when the mapping line
   * was read (0: left to mapsLineAt), start, end, offset, perms bits r 8 w 4 x 2 s 1, device bytes packed, device start and
   * end, inode, name start and end or -1; the first mapping with the same VmFlags values, or -1); the mapping count, -2 when `out` is too small, -1 for text left to the
   * TypeScript parser.
   */
  smapsScan(bytes: Uint8Array, length: number, out: Float64Array): number;
  /**
   * {@link smapsScan} of the file behind `fd`, read from offset 0 in pieces, with the mapping lines and VmFlags values copied
   * into `text` (the offsets are into it); sizes[0] = bytes read, sizes[1] = bytes of `text` used. -2: `out` or `text` too
   * small; -3: a read failed.
   */
  smapsReadScan(fd: number, out: Float64Array, text: Uint8Array, sizes: Float64Array): number;
  /** prctl(PR_SET_MEMORY_MERGE, on). */
  prctlSetMemoryMerge(on: 0 | 1): void;
  /** prctl(PR_GET_MEMORY_MERGE): 0 or 1. */
  prctlGetMemoryMerge(): number;
  unsafeMmapFixed(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number): RegionHandle;
  mprotect(r: RegionHandle, offset: number, length: number, prot: number): void;
  madvise(r: RegionHandle, offset: number, length: number, advice: number): void;
  madviseProbe(advice: number): number;
  mincore(r: RegionHandle, offset: number, length: number, vec: Uint8Array | null): number;
  mlock(r: RegionHandle, offset: number, length: number, onFault: number): void;
  munlock(r: RegionHandle, offset: number, length: number): void;
  msync(r: RegionHandle, offset: number, length: number, flags: number): void;
  prctlSetVmaAnonName(r: RegionHandle, offset: number, length: number, name: string | null): void;
  sbrk0(): bigint;
  sbrk(increment: number): bigint;
  brk(addr: bigint): void;
  getrusage(who: number, out: Float64Array): void;
  pageSize(): number;
  gettid(): number;
  constants: NativeConstants;
  // measure.cc
  /** Resident pages from a pread of a kept /proc/self/statm descriptor. */
  statmResident(): number;
  /** `Rss:` of /proc/self/smaps_rollup in bytes (kept descriptor, static buffer). */
  smapsRollupRss(): number;
  /** Reads /proc/self/<name> into `buf` (kept descriptor); returns bytes. */
  readProcSelf(name: 'statm' | 'smaps_rollup', buf: Uint8Array): number;
  /** Fills [present, swapped, fileOrShared, exclusive, softDirty, pfnVisible, zeroPfnPages]. */
  pagemapCount(r: RegionHandle, offset: number, length: number, out: Float64Array, zeroPfn: bigint): void;
  /** Raw pagemap entries, one per page. */
  pagemapRead(r: RegionHandle, offset: number, length: number, out: BigUint64Array): number;
  /** 0, or the errno (ENOTTY/EINVAL/EOPNOTSUPP) when the ioctl is missing; fills [present, swapped, pfnZero, file, softDirty, huge]. */
  pagemapScan(r: RegionHandle, offset: number, length: number, out: Float64Array): number;
  /** Fills [seconds, nanoseconds] of CLOCK_MONOTONIC without allocating. */
  clockMonotonic(out: Float64Array): void;
  perfFaultsOpen(): [number, number];
  perfFaultsRead(fdMinor: number, fdMajor: number, out: Float64Array): void;
  /** getrusage(who) into out[0..1] (minflt, majflt) and, where fdMinor >= 0, the perf counters into out[2..3]: one call. */
  faultsRead(who: number, out: Float64Array, fdMinor: number, fdMajor: number): void;
  /** glibc's mallinfo2(), or null where glibc is older than 2.33. */
  mallinfo2(): NativeMallinfo | null;
  // region-discard.cc
  /** [address of the backing store, byteLength, region state: 0 none, 1 a Region of this thread, 2 one shared with other threads, 3 an unmapped Mapping's], or null when detached. */
  arrayBufferInfo(ab: ArrayBuffer): [bigint, number, 0 | 1 | 2 | 3] | null;
  /** madvise over whole pages inside the ArrayBuffer's own bytes; advice DONTNEED, FREE, COLD, PAGEOUT or WILLNEED only. */
  madviseArrayBuffer(ab: ArrayBuffer, offset: number, length: number, advice: number): void;
  // giveback.cc, prctl.cc, process-madvise.cc, pagemap-scan.cc
  /** malloc_trim(pad): 1 when memory was given back, 0 otherwise, -1 without glibc. */
  mallocTrim(pad: number): number;
  /** prctl(PR_SET_THP_DISABLE, disable, flags). */
  prctlSetThpDisable(disable: 0 | 1, flags: number): void;
  /** prctl(PR_GET_THP_DISABLE): 0, 1, or 1 | PR_THP_DISABLE_EXCEPT_ADVISED. */
  prctlGetThpDisable(): number;
  /** Resident pages of [address, address + length) by mincore (any address: reads page tables only). */
  mincoreAt(address: bigint, length: number, vec: Uint8Array | null): number;
  /** One process_madvise per IOV_MAX ranges by address; COLD, PAGEOUT, WILLNEED only. [bytes, calls]. */
  processMadviseAt(addresses: BigUint64Array, lengths: Float64Array, advice: number): [number, number];
  /** A userfaultfd in async write-protect mode registered over the range (userfaultfd + UFFDIO_API + UFFDIO_REGISTER). */
  userfaultfdWpAsync(start: bigint, length: number): number;
  /** PAGEMAP_SCAN runs [start, end, categories, ...]; wpReset write-protects the matching pages again (async-registered ranges only). */
  pagemapScanRanges(pagemapFd: number, start: bigint, end: bigint, wpReset: boolean, categoryInverted: number, categoryMask: number, categoryAnyof: number, returnMask: number): BigUint64Array;
  givebackConstants: {
    readonly PR_THP_DISABLE_EXCEPT_ADVISED: number;
    readonly PAGE_IS_WRITTEN: number;
    readonly PAGE_IS_PRESENT: number;
    readonly PAGE_IS_SWAPPED: number;
    readonly PAGE_IS_SOFT_DIRTY: number;
  };
}

/** The package's root folder, or a thrown error naming where it looked (a permission refusal as {@link permissionError} words it). @internal */
export function requirePackageRoot(): string {
  const root = packageRoot((err) => {
    const refused = permissionError(err);
    if (refused) throw refused;
  });
  if (root === null) throw new Error(`pagewise: cannot find the package root (package.json named pagewise) above ${__dirname}`);
  return root;
}

type CodedError = Error & { code?: string; name: string };

/**
 * A loading failure that is a runtime's permission refusal, turned into one
 * error that names the flag to add; `null` for anything else.
 * - Node's permission model (`--permission`, Node 22+; `--experimental-permission`
 *   on Node 20): addons need `--allow-addons` (ERR_DLOPEN_DISABLED), files
 *   `--allow-fs-read` (ERR_ACCESS_DENIED).
 * - Deno: an addon needs `--allow-ffi` (NotCapable "Requires ffi access").
 * @internal
 */
export function permissionError(err: unknown): (Error & { code: string }) | null {
  const e = err as CodedError | null;
  if (!e || typeof e !== 'object') return null;
  const message = String(e.message ?? '');
  let text: string | null = null;
  if (e.code === 'ERR_DLOPEN_DISABLED') {
    text =
      `pagewise: Node's permission model forbids native addons (${message.split('\n')[0]}). ` +
      `Run node with --allow-addons (pagewise is a native addon), and --allow-fs-read for the package folder and /proc ` +
      `(e.g. node --permission --allow-addons --allow-fs-read=* app.js).`;
  } else if (e.code === 'ERR_ACCESS_DENIED') {
    const resource = (e as { resource?: unknown }).resource;
    text =
      `pagewise: Node's permission model denied reading ${typeof resource === 'string' ? resource : 'a file'} while loading the addon. ` +
      `Run node with --allow-fs-read covering the pagewise package folder (and /proc for the measurement functions), ` +
      `and --allow-addons.`;
  } else if (e.name === 'NotCapable' || /Requires ffi access/.test(message)) {
    text =
      `pagewise: Deno refused to load the native addon (${message.split('\n')[0]}). ` +
      `Run deno with --allow-ffi (addons), --allow-read (the package files) and --allow-env (PAGEWISE_* settings); ` +
      `the /proc readers also need --allow-all (Deno 1.43+ allows JS to read /proc only then).`;
  }
  if (!text) return null;
  return pagewiseError('ERR_PAGEWISE_PERMISSION', text, err);
}

/**
 * `true` when this process runs on musl libc (Alpine), where the glibc
 * binaries cannot load: musl's dynamic loader (`ld-musl-*.so.1`) is mapped
 * into every dynamically linked musl process. Read from /proc/self/maps, not
 * `process.report` (which crashed Node 26 under qemu-user at 16K pages, seen
 * here); `false` when it cannot be read (permission models).
 */
function onMusl(): boolean {
  try {
    return /\/ld-musl-[^/\s]*\.so/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    return false;
  }
}

/** `PAGEWISE_FROM_SOURCE` set to anything but '', '0' or 'false'. @internal */
export function fromSourceRequested(): boolean {
  const v = process.env.PAGEWISE_FROM_SOURCE;
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

/** Which file the addon was loaded from. @internal */
export interface NativeOrigin {
  /** Absolute path of the loaded `.node` file. */
  file: string;
  /** `prebuild` (shipped under `prebuilds/`) or `build` (node-gyp, `build/`). */
  kind: 'prebuild' | 'build';
}

/** Modification time of `file` in ms, 0 when it does not exist. @internal */
export function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Whether `built` exists and is newer than every `.node` file in `dir`. */
function newerThanPrebuilds(built: string, dir: string): boolean {
  const t = mtime(built);
  if (!t) return false;
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  } catch {
    return false;
  }
  return files.length > 0 && files.every((f) => mtime(path.join(dir, f)) < t);
}

function loadNative(): { binding: Native; origin: NativeOrigin } {
  const tag = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') {
    throw new Error(`pagewise: Linux only (x86-64, arm64); this is ${tag}`);
  }
  const root = requirePackageRoot();
  const requireNative = createRequire(__filename);
  // PAGEWISE_BINARY=/path/to/pagewise.node loads exactly that file (the
  // sanitizer build of `npm run test:asan`).
  const explicit = process.env.PAGEWISE_BINARY;
  if (explicit) {
    const file = path.resolve(explicit);
    try {
      return { binding: requireNative(file) as Native, origin: { file, kind: 'build' } };
    } catch (err) {
      throw permissionError(err) ?? err;
    }
  }
  const prebuildDir = path.join(root, 'prebuilds', tag);
  const tried: string[] = [];
  const built = path.join(root, 'build', 'Release', 'pagewise.node');
  type Loaded = { binding: Native; origin: NativeOrigin };
  const fromPrebuilds = (): Loaded | null => {
    if (!fs.existsSync(prebuildDir)) {
      let shipped: string[] = [];
      try {
        shipped = fs.readdirSync(path.join(root, 'prebuilds'));
      } catch {
        // no prebuilds/ at all: a development checkout
      }
      tried.push(`prebuilds/${tag}: none shipped${shipped.length ? ` (this package has: ${shipped.join(', ')})` : ''}`);
      return null;
    }
    let files: string[];
    try {
      files = fs.readdirSync(prebuildDir).filter((f) => f.endsWith('.node'));
    } catch (err) {
      throw permissionError(err) ?? err;
    }
    files.sort((a, b) => Number(b.includes('napi')) - Number(a.includes('napi')));
    for (const f of files) {
      const file = path.join(prebuildDir, f);
      try {
        return { binding: requireNative(file) as Native, origin: { file, kind: 'prebuild' } };
      } catch (err) {
        const denied = permissionError(err);
        if (denied) throw denied;
        tried.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    if (!files.length) tried.push(`${prebuildDir}: no .node file`);
    return null;
  };
  const fromBuild = (): Loaded | null => {
    try {
      const binding = bindings({ bindings: 'pagewise.node', module_root: root }) as Native;
      return { binding, origin: { file: fs.existsSync(built) ? built : path.join(root, 'build'), kind: 'build' } };
    } catch (err) {
      const denied = permissionError(err);
      if (denied) throw denied;
      const msg = (err as Error).message;
      tried.push(`build/Release/pagewise.node: ${msg.startsWith('Could not locate the bindings file') ? 'not built' : msg.split('\n')[0]}`);
      return null;
    }
  };
  let found: Loaded | null;
  if (fromSourceRequested()) {
    tried.push(`prebuilds/${tag}: skipped (PAGEWISE_FROM_SOURCE=${process.env.PAGEWISE_FROM_SOURCE})`);
    found = fromBuild();
  } else if (newerThanPrebuilds(built, prebuildDir)) {
    // A local node-gyp build made after the prebuilds is tried first: it is
    // what the user just compiled (in a checkout, stale prebuilds would
    // otherwise shadow every native change). When it does not load (built
    // for another architecture, a broken build), the prebuilds still serve.
    found = fromBuild() ?? fromPrebuilds();
  } else {
    found = fromPrebuilds() ?? fromBuild();
  }
  if (found) return found;
  if (onMusl()) {
    throw pagewiseError(
      'ERR_PAGEWISE_MUSL',
      `pagewise: this system uses musl libc (Alpine?); the shipped binaries are built for glibc and cannot load. ` +
        `Build it here from source (needs python3, make, g++ and linux-headers: apk add python3 make g++ linux-headers):\n` +
        `  cd ${root} && npm run build-from-source\n` +
        `Tried:\n  ${tried.join('\n  ')}`,
    );
  }
  throw pagewiseError(
    'ERR_PAGEWISE_NO_BINARY',
    `pagewise: no usable binary for ${tag} (Node ${process.version}, needs Node-API ${NAPI_VERSION}).\n` +
      `Tried:\n  ${tried.join('\n  ')}\n` +
      `Build it from source (needs python3, make and a C++ compiler, e.g. apt-get install python3 make g++):\n` +
      `  cd ${root} && npm run build-from-source\n` +
      `(the same as: npx --yes node-gyp rebuild, run where the package's binding.gyp is; ` +
      `the published package keeps it in gyp/ so that npm never builds on its own)`,
  );
}

/** The Node-API version the binary is built for (binding.gyp NAPI_VERSION, package.json binary.napi_versions). @internal */
export const NAPI_VERSION = 8;

const loaded = loadNative();

/** Where the addon was loaded from. @internal */
export const nativeOrigin: NativeOrigin = loaded.origin;

/**
 * `PAGEWISE_SIMULATE_V8_SANDBOX=1`: behave as under a V8 memory sandbox (the
 * "cage" of Electron and of Node builds with the sandbox), where Node-API
 * refuses every external ArrayBuffer (`napi_no_external_buffers_allowed`).
 * The functions that create one throw what the native layer throws there
 * (`ERR_PAGEWISE_EXTERNAL_BUFFER`, native/region.cc) without asking V8;
 * everything else is the real addon. Lets the tests check what an Electron
 * user gets without Electron. @internal
 */
export const simulatedV8Sandbox: boolean = /^(1|true)$/.test(process.env.PAGEWISE_SIMULATE_V8_SANDBOX ?? '');

function sandboxed(binding: Native): Native {
  const refuse = (what: string, len: number | null): never => {
    throw pagewiseError(
      'ERR_PAGEWISE_EXTERNAL_BUFFER',
      `cannot create an external ${what}${len === null ? '' : ` of ${len} bytes`}: External buffers are not allowed ` +
        `(runtimes with the V8 memory sandbox, such as Electron, forbid external ArrayBuffers) [simulated: PAGEWISE_SIMULATE_V8_SANDBOX]`,
    );
  };
  return Object.assign(Object.create(null) as Native, binding, {
    regionBuffer: (_r: RegionHandle, _offset: number, length: number): ArrayBuffer => refuse('ArrayBuffer', length),
    regionSharedBuffer: (): SharedArrayBuffer | undefined => refuse('SharedArrayBuffer', null),
  });
}

/** The loaded addon. @internal */
export const native: Native = simulatedV8Sandbox ? sandboxed(loaded.binding) : loaded.binding;
