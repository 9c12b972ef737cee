/**
 * What this kernel can do, each probed once at run time: the advice numbers
 * it knows, whether it names anonymous memory, and the memory calls Linux
 * gained since 6.x (with the minimum kernel stated). A feature the kernel
 * lacks fails cleanly with `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` naming it.
 * `PAGEWISE_FORCE_MISSING=mseal,guard,...` turns probes off (to test the
 * fallbacks on a kernel that has them).
 */
import * as fs from 'node:fs';
import { native, type RegionHandle } from '../native/binding';
import { procPath } from './parse';
import { pageSize } from './facts';
import { featureUnavailable } from '../errors';

/** The features probed. */
export type KernelFeature = 'mseal' | 'guard' | 'guardReport' | 'procmapQuery' | 'processMadvise' | 'droppable' | 'secretMemory' | 'memoryMerge' | 'thpExceptAdvised' | 'writeTracking' | 'softDirty' | 'guardFlag';

/** What each needs. */
export const FEATURE_MINIMUM: Readonly<Record<KernelFeature, string>> = Object.freeze({
  mseal: 'Linux 6.10 (mseal)',
  guard: 'Linux 6.13 (MADV_GUARD_INSTALL; file mappings 6.15)',
  guardReport: 'Linux 6.15 (PAGEMAP_SCAN category PAGE_IS_GUARD, pagemap bit 58)',
  procmapQuery: 'Linux 6.11 (ioctl PROCMAP_QUERY on /proc/PID/maps)',
  processMadvise: 'Linux 5.10 (process_madvise; MADV_DONTNEED and every other advice on the own process since 6.13)',
  droppable: 'Linux 6.11 (MAP_DROPPABLE)',
  secretMemory: 'Linux 5.14 with secretmem.enable=1 on the kernel command line (memfd_secret)',
  memoryMerge: 'Linux 6.4 built with CONFIG_KSM (prctl PR_SET_MEMORY_MERGE)',
  thpExceptAdvised: 'Linux 6.18 (prctl PR_SET_THP_DISABLE with PR_THP_DISABLE_EXCEPT_ADVISED)',
  softDirty: 'a kernel built with CONFIG_MEM_SOFT_DIRTY (pagemap bit 55, clear_refs 4; x86-64, arm64 since 6.x where enabled)',
  guardFlag: 'Linux 6.19 (smaps VmFlags gu: VM_MAYBE_GUARD, set on a VMA where guard pages were installed)',
  writeTracking: 'Linux 6.7 built with CONFIG_USERFAULTFD and CONFIG_HAVE_ARCH_USERFAULTFD_WP (userfaultfd write-protect in async mode, PAGEMAP_SCAN PAGE_IS_WRITTEN)',
});

const forced = new Set((process.env.PAGEWISE_FORCE_MISSING ?? '').split(',').map((s) => s.trim()).filter(Boolean));
const cache = new Map<KernelFeature, boolean>();

function probe(f: KernelFeature): boolean {
  const K = native.uapiConstants;
  switch (f) {
    case 'mseal':
      return native.msealProbe() === 0;
    case 'guard':
      return native.madviseProbe(K.MADV_GUARD_INSTALL) === 0;
    case 'procmapQuery':
      return procmapWorks();
    case 'processMadvise':
      return native.processMadviseProbe(native.constants.MADV_COLD) === 0;
    case 'droppable':
      return droppableWorks();
    case 'secretMemory':
      return secretWorks();
    case 'guardReport':
      return guardScanWorks();
    case 'guardFlag':
      return guardFlagWorks();
    case 'memoryMerge':
      try {
        return native.prctlGetMemoryMerge() >= 0;
      } catch {
        return false;
      }
    case 'thpExceptAdvised':
      return thpExceptAdvisedWorks();
    case 'writeTracking':
      return writeTrackingWorks();
    case 'softDirty':
      return softDirtyWorks();
  }
}

/** `fn` on a fresh read-write page of our own (private, or `sharing` MAP_SHARED), unmapped after; false where the mapping or `fn` throws. */
function worksOnOwnPage(fn: (r: RegionHandle, page: number) => boolean, sharing: number = native.constants.MAP_PRIVATE): boolean {
  const C = native.constants;
  const page = native.pageSize();
  let r: RegionHandle;
  try {
    r = native.mmap(page, C.PROT_READ | C.PROT_WRITE, sharing | C.MAP_ANONYMOUS, -1, 0, 0n, 0);
  } catch {
    return false;
  }
  try {
    return fn(r, page);
  } catch {
    return false;
  } finally {
    native.munmap(r);
  }
}

// A page of our own registered for async write-protect, one write-protecting
// scan, closed (closing the userfaultfd unregisters the range).
function writeTrackingWorks(): boolean {
  return worksOnOwnPage((r, page) => {
    const a = native.regionAddress(r);
    const fd = native.userfaultfdWpAsync(a, page);
    try {
      return worksOnSelfFile('pagemap', (pm) => {
        const W = native.givebackConstants.PAGE_IS_WRITTEN;
        native.pagemapScanRanges(pm, a, a + BigInt(page), true, 0, W, 0, W);
        return true;
      });
    } finally {
      fs.closeSync(fd);
    }
  });
}

// A page written in a fresh mapping reads soft-dirty (bit 55) where the
// kernel tracks it; without CONFIG_MEM_SOFT_DIRTY the bit is always 0.
function softDirtyWorks(): boolean {
  return worksOnOwnPage((r, page) => {
    new Uint8Array(native.regionBuffer(r, 0, page))[0] = 1;
    const e = new BigUint64Array(1);
    native.pagemapRead(r, 0, page, e);
    return (e[0]! & (1n << 55n)) !== 0n;
  });
}

// Sets the flag and puts the process's previous THP state back (a kernel
// before 6.18 refuses the flag with EINVAL and changes nothing).
function thpExceptAdvisedWorks(): boolean {
  try {
    const was = native.prctlGetThpDisable();
    native.prctlSetThpDisable(1, native.givebackConstants.PR_THP_DISABLE_EXCEPT_ADVISED);
    native.prctlSetThpDisable(was & 1 ? 1 : 0, was & 1 ? was & native.givebackConstants.PR_THP_DISABLE_EXCEPT_ADVISED : 0);
    return true;
  } catch {
    return false;
  }
}

/** `fn` on a read descriptor of /proc/self/NAME, closed after; false where the open or `fn` throws. */
function worksOnSelfFile(name: string, fn: (fd: number) => boolean): boolean {
  let fd: number;
  try {
    fd = fs.openSync(procPath('self', name), 'r');
  } catch {
    return false;
  }
  try {
    return fn(fd);
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

function procmapWorks(): boolean {
  return worksOnSelfFile('maps', (fd) => {
    native.procmapQuery(fd, 0n, true, new Uint8Array(0));
    return true;
  });
}

function guardScanWorks(): boolean {
  // An empty stretch of the address space: an array where the kernel knows PAGE_IS_GUARD, an errno where not.
  return worksOnSelfFile('pagemap', (fd) => Array.isArray(native.pagemapGuardScan(fd, 0n, BigInt(native.pageSize()))));
}

// A guard page installed in a page of shared anonymous memory of our own (a
// mapping no neighbour merges with), and its VMA's VmFlags read from smaps.
function guardFlagWorks(): boolean {
  if (!kernelHas('guard')) return false;
  return worksOnOwnPage((r, page) => {
    native.madvise(r, 0, page, native.uapiConstants.MADV_GUARD_INSTALL);
    return vmFlagsAt(native.regionAddress(r)).includes('gu');
  }, native.constants.MAP_SHARED);
}

/**
 * The VmFlags of the calling process's VMA that starts at `start`, from its
 * smaps ([] when not found), read in pieces as text until that line: no
 * ArrayBuffer beyond a piece from Node's pool (the probe runs inside the
 * first explain(), whose ArrayBuffer figures it must not move).
 */
function vmFlagsAt(start: bigint): string[] {
  const head = `${start.toString(16).padStart(8, '0')}-`;
  const fd = fs.openSync(procPath('self', 'smaps'), 'r');
  try {
    const piece = Buffer.allocUnsafe(4000);
    let text = '\n';
    for (let pos = 0; ;) {
      const n = fs.readSync(fd, piece, 0, piece.length, pos);
      if (n > 0) text += piece.toString('latin1', 0, n);
      pos += n;
      const at = text.indexOf(`\n${head}`);
      const flags = at < 0 ? -1 : text.indexOf('\nVmFlags:', at);
      const end = flags < 0 ? -1 : text.indexOf('\n', flags + 1);
      if (end >= 0 || (n === 0 && flags >= 0)) return text.slice(flags + '\nVmFlags:'.length, end < 0 ? text.length : end).trim().split(/\s+/);
      if (n === 0) return [];
      // Only the tail can hold a line still cut: keep it.
      if (at < 0) text = text.slice(Math.max(0, text.lastIndexOf('\n')));
    }
  } finally {
    fs.closeSync(fd);
  }
}

function droppableWorks(): boolean {
  const C = native.constants;
  try {
    const r = native.mmap(native.pageSize(), C.PROT_READ | C.PROT_WRITE, native.uapiConstants.MAP_DROPPABLE | C.MAP_ANONYMOUS, -1, 0, 0n, 0);
    native.munmap(r);
    return true;
  } catch {
    return false;
  }
}

function secretWorks(): boolean {
  try {
    const fd = native.memfdSecret(0);
    fs.closeSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** Whether this kernel (and process) can use `feature` (probed once). */
export function kernelHas(feature: KernelFeature): boolean {
  if (!Object.hasOwn(FEATURE_MINIMUM, feature)) return false;
  if (forced.has(feature)) return false;
  let ok = cache.get(feature);
  if (ok === undefined) {
    ok = probe(feature);
    cache.set(feature, ok);
  }
  return ok;
}

/** Every probed feature and whether this kernel has it. */
export function kernelFeatures(): Record<KernelFeature, boolean> {
  const out = {} as Record<KernelFeature, boolean>;
  for (const f of Object.keys(FEATURE_MINIMUM) as KernelFeature[]) out[f] = kernelHas(f);
  return out;
}

/** @internal Throws ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming what is needed, unless the kernel has it. */
export function requireFeature(feature: KernelFeature): void {
  if (kernelHas(feature)) return;
  throw featureUnavailable(
    `${feature} is not available here: it needs ${FEATURE_MINIMUM[feature]}${forced.has(feature) ? ' (turned off by PAGEWISE_FORCE_MISSING)' : ''}`,
  );
}

const adviceCache = new Map<number, boolean>();

/**
 * Whether the running kernel knows the advice numbered `n`: probes
 * `madvise(NULL, 0, n)`, which returns 0 for a known advice and EINVAL for an
 * unknown one. Cached.
 */
export function adviceKnown(n: number): boolean {
  let ok = adviceCache.get(n);
  if (ok === undefined) {
    ok = native.madviseProbe(n) === 0;
    adviceCache.set(n, ok);
  }
  return ok;
}

let namesSupported: boolean | undefined;

/**
 * Whether this kernel can name anonymous memory (`PR_SET_VMA_ANON_NAME`,
 * Linux 5.17+ built with CONFIG_ANON_VMA_NAME). Probed once on one page.
 */
export function vmaNamesSupported(): boolean {
  if (namesSupported === undefined) {
    const page = pageSize();
    const C = native.constants;
    const r = native.mmap(page, C.PROT_NONE, C.MAP_PRIVATE | C.MAP_ANONYMOUS, -1, 0, 0n, 0);
    try {
      native.prctlSetVmaAnonName(r, 0, page, 'pagewise-probe');
      namesSupported = true;
    } catch {
      namesSupported = false;
    } finally {
      native.munmap(r);
    }
  }
  return namesSupported;
}
