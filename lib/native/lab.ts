/**
 * The lab binary (`pagewise_lab.node`, native/lab/): the C benchmark loops
 * of lib/bench and the fork probe of lib/experiments, kept out of the core
 * binary every user loads. Loaded lazily, on the first lab call, and only by
 * lab code: `PAGEWISE_LAB_BINARY=/path/file.node` loads exactly that file;
 * otherwise `prebuilds/<platform>-<arch>/lab/pagewise_lab.node` first, then
 * the node-gyp build `build/Release/pagewise_lab.node` (first when it is newer
 * than the prebuild, or with `PAGEWISE_FROM_SOURCE`), as lib/native.ts does
 * for the core. When none loads, only the benchmarks and experiments that
 * need it fail, with `ERR_PAGEWISE_NO_LAB_BINARY` naming what was tried.
 *
 * The lab addon is a separate module and cannot see the core's Regions: its
 * functions take an address (BigInt) and a length (native/lab/lab.h). The
 * functions of {@link lab} take a live Mapping, check the range lies inside
 * it and, where a call takes write access away or replaces the pages, first
 * detach the Mapping's ArrayBuffers over it (what the core does itself).
 * @internal
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromSourceRequested, mtime, native, requirePackageRoot, permissionError, type RegionHandle } from './binding';
import { pagewiseError } from '../errors';

/** Result of the fork probe (native/lab/fork_probe.cc). @internal */
export interface CowResult {
  pages: number;
  writes: number;
  childReadFaults: number;
  childWriteFaults: number;
  childExitCode: number;
  childSignal: number;
  presentBefore: number;
  exclusiveBefore: number;
  presentWhileChild: number;
  exclusiveWhileChild: number;
  presentAfter: number;
  exclusiveAfter: number;
}

/**
 * The lab binary's functions (native/lab/). Every `cbench*` loop returns the
 * total nanoseconds of its loop, timed with CLOCK_MONOTONIC in C around the
 * loop only; `cbenchLastValue()` returns what the last loop computed.
 * @internal
 */
export interface NativeLab {
  cbenchMadvise(address: bigint, length: number, advice: number, iterations: number): number;
  /** MADV_DONTNEED of `count` scattered dirty pages in [address, address + length): one madvise each (`batched` 0) or one process_madvise (1), ns timed in C. */
  cbenchDontneedRanges(address: bigint, length: number, count: number, batched: number): number;
  /** Each iteration is mprotect(protA) then mprotect(protB). */
  cbenchMprotect(address: bigint, length: number, protA: number, protB: number, iterations: number): number;
  cbenchMincore(address: bigint, length: number, iterations: number): number;
  /** touch: 1 writes one byte per page between mmap and munmap. */
  cbenchMmapMunmap(length: number, iterations: number, touch: number): number;
  cbenchMmapPopulate(length: number): number;
  cbenchTouch(address: bigint, length: number, stride: number): number;
  cbenchMemset(address: bigint, length: number, byte: number): number;
  cbenchGetrusage(who: number, iterations: number): number;
  /** getrusage(RUSAGE_THREAD) then one read of a group of two perf page-fault counters, per iteration (what faults() does by default). */
  cbenchGetrusagePerf(iterations: number): number;
  /** open, read the whole file, close, per iteration. */
  cbenchReadAll(path: string, iterations: number): number;
  /** kind: 0 statm, 1 smaps_rollup/status, 2 stat. */
  cbenchProcRead(path: string, iterations: number, keepFd: number, kind: number): number;
  cbenchPagemap(address: bigint, length: number, iterations: number): number;
  /** full: 1 asks for the same categories as residency(). */
  cbenchPagemapScan(address: bigint, length: number, iterations: number, full: number): number;
  cbenchMallocFree(size: number, iterations: number): number;
  cbenchNow(): number;
  /** ns of a C loop over /proc/self/maps: 0 reads the text, 1 walks every VMA by PROCMAP_QUERY, 2 queries `address` (iterations times). */
  cbenchMaps(mode: number, iterations: number, address: bigint): number;
  cbenchLastValue(): number;
  /** Forks; the child reads every page of the range, then writes one byte to each of the first k. */
  cowProbe(address: bigint, length: number, k: number): CowResult;
  /** munmap then mmap(MAP_FIXED_NOREPLACE | flags) of the same range. */
  unmapRemap(address: bigint, length: number, flags: number): void;
}

/** The file name of the lab binary. @internal */
export const LAB_FILE = 'pagewise_lab.node';

type LabLoad = { binding: NativeLab; file: string } | { error: Error & { code: string } };
let loaded: LabLoad | undefined;

function load(): LabLoad {
  const requireNative = createRequire(__filename);
  const tried: string[] = [];
  const attempt = (file: string): NativeLab | null => {
    if (!fs.existsSync(file)) {
      tried.push(`${file}: not there`);
      return null;
    }
    try {
      return requireNative(file) as NativeLab;
    } catch (err) {
      const denied = permissionError(err);
      if (denied) throw denied;
      tried.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
      return null;
    }
  };
  let root = '<pagewise>';
  let candidates: string[];
  const explicit = process.env.PAGEWISE_LAB_BINARY;
  if (explicit) {
    candidates = [path.resolve(explicit)];
  } else {
    root = requirePackageRoot();
    const prebuilt = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'lab', LAB_FILE);
    const built = path.join(root, 'build', 'Release', LAB_FILE);
    if (fromSourceRequested()) candidates = [built];
    else if (mtime(built) > mtime(prebuilt)) candidates = [built, prebuilt];
    else candidates = [prebuilt, built];
  }
  for (const file of candidates) {
    const binding = attempt(file);
    if (binding) return { binding, file };
  }
  const error = pagewiseError(
    'ERR_PAGEWISE_NO_LAB_BINARY',
    `pagewise: the lab binary (${LAB_FILE}: the C benchmark baselines and the experiment probes) is missing or does not load; ` +
      `only the benchmarks and experiments that need it fail.\nTried:\n  ${tried.join('\n  ')}\n` +
      (explicit ? `(PAGEWISE_LAB_BINARY=${explicit})` : `Build it from source: cd ${root} && npm run build-from-source`),
  );
  return { error };
}

/** The lab binary, loaded on first use; throws `ERR_PAGEWISE_NO_LAB_BINARY` when it is missing. @internal */
export function nativeLab(): NativeLab {
  loaded ??= load();
  if ('error' in loaded) throw loaded.error;
  return loaded.binding;
}

/** Why the lab binary cannot be used (the error's message), or `null` when it loads. @internal */
export function labMissing(): string | null {
  loaded ??= load();
  return 'error' in loaded ? loaded.error.message : null;
}

/** The file the lab binary was loaded from, or `null` when it is missing. @internal */
export function labOrigin(): string | null {
  loaded ??= load();
  return 'error' in loaded ? null : loaded.file;
}

/** What a lab call needs of a Mapping: reading `region` checks it is still mapped. @internal */
export interface LabTarget {
  readonly address: bigint;
  readonly length: number;
  readonly region: RegionHandle;
}

/** The address of [offset, offset + length) of a live mapping, after checking the range lies inside it. */
function at(m: LabTarget, offset: number, length: number): bigint {
  void m.region;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > m.length) {
    throw new RangeError(`lab range [${offset}, ${offset} + ${length}) is not inside the mapping of ${m.length} bytes`);
  }
  return m.address + BigInt(offset);
}

/** PROT_WRITE (the same on every Linux architecture). */
const PROT_WRITE = 2;

/**
 * The lab functions over a Mapping's range. The native loops (cbench*) and
 * probes see only an address; this is where the range is checked and where
 * ArrayBuffers are detached before write access goes away.
 * @internal
 */
export const lab = {
  cbenchMadvise: (m: LabTarget, offset: number, length: number, advice: number, iterations: number): number =>
    nativeLab().cbenchMadvise(at(m, offset, length), length, advice, iterations),
  /** Detaches the range's ArrayBuffers first when a protection lacks write, as the core's mprotect does. */
  cbenchMprotect(m: LabTarget, offset: number, length: number, protA: number, protB: number, iterations: number): number {
    const address = at(m, offset, length);
    const binding = nativeLab();
    if (!(protA & PROT_WRITE) || !(protB & PROT_WRITE)) {
      if (native.regionSharedRefs(m.region) > 1 || native.regionEscaped(m.region, offset, length)) {
        throw new Error('cbenchMprotect: the range is shared with other threads or a buffer over it escaped: write access must stay');
      }
      native.regionDetach(m.region, offset, length);
    }
    return binding.cbenchMprotect(address, length, protA, protB, iterations);
  },
  cbenchMincore: (m: LabTarget, offset: number, length: number, iterations: number): number =>
    nativeLab().cbenchMincore(at(m, offset, length), length, iterations),
  cbenchMmapMunmap: (length: number, iterations: number, touch: number): number => nativeLab().cbenchMmapMunmap(length, iterations, touch),
  cbenchMmapPopulate: (length: number): number => nativeLab().cbenchMmapPopulate(length),
  cbenchTouch: (m: LabTarget, offset: number, length: number, stride: number): number =>
    nativeLab().cbenchTouch(at(m, offset, length), length, stride),
  cbenchMemset: (m: LabTarget, offset: number, length: number, byte: number): number =>
    nativeLab().cbenchMemset(at(m, offset, length), length, byte),
  cbenchGetrusage: (who: number, iterations: number): number => nativeLab().cbenchGetrusage(who, iterations),
  cbenchGetrusagePerf: (iterations: number): number => nativeLab().cbenchGetrusagePerf(iterations),
  cbenchReadAll: (file: string, iterations: number): number => nativeLab().cbenchReadAll(file, iterations),
  cbenchProcRead: (file: string, iterations: number, keepFd: number, kind: number): number =>
    nativeLab().cbenchProcRead(file, iterations, keepFd, kind),
  cbenchPagemap: (m: LabTarget, offset: number, length: number, iterations: number): number =>
    nativeLab().cbenchPagemap(at(m, offset, length), length, iterations),
  cbenchPagemapScan: (m: LabTarget, offset: number, length: number, iterations: number, full: number): number =>
    nativeLab().cbenchPagemapScan(at(m, offset, length), length, iterations, full),
  cbenchMallocFree: (size: number, iterations: number): number => nativeLab().cbenchMallocFree(size, iterations),
  cbenchNow: (): number => nativeLab().cbenchNow(),
  cbenchMaps: (mode: number, iterations: number, address: bigint): number => nativeLab().cbenchMaps(mode, iterations, address),
  cbenchLastValue: (): number => nativeLab().cbenchLastValue(),
  cowProbe: (m: LabTarget, offset: number, length: number, k: number): CowResult => nativeLab().cowProbe(at(m, offset, length), length, k),
  /** Detaches the range's ArrayBuffers, then unmaps and maps it again in place. */
  unmapRemap(m: LabTarget, offset: number, length: number, flags: number): void {
    const address = at(m, offset, length);
    const binding = nativeLab();
    native.regionDetach(m.region, offset, length);
    binding.unmapRemap(address, length, flags);
  },
} as const;
