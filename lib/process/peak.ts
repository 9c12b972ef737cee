/**
 * The peak RSS of a phase: `resetPeakRss()` writes `5` to
 * /proc/self/clear_refs (the kernel sets `VmHWM` to the current RSS) and,
 * where the process is in a cgroup v2 whose `memory.peak` it may write
 * (Linux 6.12+), resets the cgroup's peak for a descriptor pagewise keeps;
 * `peakRss()` reads both.
 */
import * as fs from 'node:fs';
import { cgroupMemory } from '../kernel/cgroup';
import { openResetCgroupPeak, readCgroupPeakFd, writeClearRefs } from '../kernel/clear-refs';
import { readStatus } from '../kernel/status';

/** The cgroup's peak, where there is one to read. */
export interface CgroupPeak {
  /** Bytes: the cgroup's `memory.current` high-water mark (every process of the cgroup, page cache included). */
  peak: number;
  /** `'reset'`: since the last {@link resetPeakRss} (through its descriptor); `'creation'`: since the cgroup was made. */
  since: 'reset' | 'creation';
  /** The file read. */
  file: string;
}

/** What {@link peakRss} read. */
export interface PeakRss {
  /** `VmHWM` of /proc/self/status: the process's peak RSS since it started or since the last {@link resetPeakRss}, bytes. */
  vmHwm: number;
  /** `VmRSS` at the same read, bytes. */
  vmRss: number;
  /** The cgroup v2 peak, or `null` (see `cgroupNote`). */
  cgroup: CgroupPeak | null;
  /** Why `cgroup` is `null`, or how it was reset; `''` when read since creation with nothing to say. */
  cgroupNote: string;
}

/** What {@link resetPeakRss} did. */
export interface ResetPeakRssResult {
  /** `VmHWM` after the reset (the RSS at that moment), bytes. */
  vmHwm: number;
  /** Whether the cgroup's `memory.peak` was reset for pagewise's descriptor. */
  cgroup: boolean;
  /** Why not, where not. */
  cgroupNote: string;
}

let peakFd = -1;
let peakFile = '';
let note = '';

function cgroupDir(): { dir: string | null; why: string } {
  const c = cgroupMemory();
  if (c.memoryController !== 'v2' || c.dir === null) return { dir: null, why: c.summary };
  return { dir: c.dir, why: '' };
}

/**
 * Resets the process's peak RSS (`VmHWM`) to its current RSS, and the
 * cgroup v2 `memory.peak` where it can be written (Linux 6.12+, a cgroup the
 * process may write: a container's own, a systemd user scope). A refusal of
 * /proc/self/clear_refs is thrown as the `fs` error (code, errno, syscall).
 */
export function resetPeakRss(): ResetPeakRssResult {
  writeClearRefs(5);
  const { dir, why } = cgroupDir();
  let cgroup = false;
  if (dir === null) note = `no cgroup v2 memory.peak: ${why}`;
  else {
    try {
      const fd = openResetCgroupPeak(dir);
      if (peakFd >= 0) fs.closeSync(peakFd);
      peakFd = fd;
      peakFile = `${dir}/memory.peak`;
      cgroup = true;
      note = `memory.peak reset for pagewise's descriptor (Linux 6.12+)`;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      note = `${dir}/memory.peak cannot be reset here (${code}${code === 'EINVAL' ? ': the per-descriptor reset needs Linux 6.12' : code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? ': the cgroup is not writable by this process' : ''})`;
    }
  }
  const s = readStatus();
  return { vmHwm: s.vmHwm ?? 0, cgroup, cgroupNote: note };
}

/** The process's peak RSS (`VmHWM`) and the cgroup v2 peak where there is one. */
export function peakRss(): PeakRss {
  const s = readStatus();
  let cgroup: CgroupPeak | null = null;
  let why = note;
  if (peakFd >= 0) cgroup = { peak: readCgroupPeakFd(peakFd), since: 'reset', file: peakFile };
  else {
    const c = cgroupMemory();
    if (c.memoryController === 'v2' && c.peak !== null && c.dir !== null) cgroup = { peak: c.peak, since: 'creation', file: `${c.dir}/memory.peak` };
    else why = why || `no cgroup v2 memory.peak: ${c.summary}`;
  }
  if (s.vmHwm === null || s.vmRss === null) throw new Error('/proc/self/status has no VmHWM/VmRSS');
  return { vmHwm: s.vmHwm, vmRss: s.vmRss, cgroup, cgroupNote: why };
}
