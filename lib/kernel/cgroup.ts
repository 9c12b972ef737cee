/**
 * The process's memory cgroup: `/proc/<pid>/cgroup` says where the process
 * is, `/proc/self/mountinfo` where each hierarchy is mounted, and the cgroup
 * v2 files there give `memory.current` (4.5), `memory.max`/`memory.high`
 * (4.5), `memory.stat` (4.5; keys added in most releases since),
 * `memory.pressure` (PSI, 4.20) and `memory.peak` (5.19). Formats:
 * Documentation/admin-guide/cgroup-v2.rst and Documentation/accounting/psi.rst.
 *
 * On a cgroup v1 host, or a hybrid one (v1 controllers plus a cgroup2 mount,
 * often at `/sys/fs/cgroup/unified`, that carries no memory controller),
 * those v2 files do not exist; {@link cgroupMemory} says so and reports the
 * v1 memory controller's three usage files instead.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkString } from '../validate';
import { linesOf, procPath, ProcParseError, safeInt } from './parse';

/** One line of `/proc/<pid>/cgroup` from a v1 hierarchy: `ID:controllers:path`. */
export interface CgroupV1Line {
  /** Hierarchy ID (non-zero). */
  id: number;
  /** Controllers bound to it (`['memory']`, `['cpu', 'cpuacct']`, `['name=systemd']`). */
  controllers: string[];
  /** The process's cgroup in that hierarchy, relative to its root. */
  path: string;
}

/** `/proc/<pid>/cgroup`, split by hierarchy. */
export interface ProcCgroup {
  /** The `0::<path>` line's path (the cgroup v2 hierarchy), `null` without one. */
  unified: string | null;
  /** The v1 lines (none on a pure v2 host). */
  v1: CgroupV1Line[];
}

/** Parses `/proc/<pid>/cgroup`; a line without two colons throws {@link ProcParseError}. */
export function parseProcCgroup(text: string): ProcCgroup {
  const { lines } = linesOf('cgroup', text);
  const out: ProcCgroup = { unified: null, v1: [] };
  lines.forEach((line, i) => {
    // The path is everything after the second colon (it may hold colons itself).
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) throw new ProcParseError('cgroup', i + 1, `not "ID:controllers:path": ${JSON.stringify(line.slice(0, 60))}`);
    const id = safeInt('cgroup', i + 1, 'the hierarchy ID', m[1]);
    if (id === 0) out.unified = m[3]!;
    else out.v1.push({ id, controllers: m[2] === '' ? [] : m[2]!.split(','), path: m[3]! });
  });
  return out;
}

/** A cgroup filesystem mount from `mountinfo`. */
export interface CgroupMount {
  /** `'cgroup2'` or `'cgroup'` (v1). */
  type: 'cgroup2' | 'cgroup';
  /** Where it is mounted (octal escapes such as `\040` decoded). */
  mountPoint: string;
  /** The cgroup shown at the mount point, relative to the hierarchy's root (`/` unless a cgroup namespace or a bind mount moved it). */
  root: string;
  /** v1 only: the controllers from the super options (`memory`, `name=systemd`); `[]` for cgroup2. */
  controllers: string[];
}

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * Parses `/proc/<pid>/mountinfo` (proc_pid_mountinfo(5)) and returns the
 * cgroup and cgroup2 mounts, in file order; other mounts are skipped. A line
 * without the ` - ` separator or with too few fields throws {@link ProcParseError}.
 */
export function parseCgroupMounts(text: string): CgroupMount[] {
  const { lines } = linesOf('mountinfo', text);
  const out: CgroupMount[] = [];
  lines.forEach((line, i) => {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || f.length < sep + 4) throw new ProcParseError('mountinfo', i + 1, `not a mountinfo line: ${JSON.stringify(line.slice(0, 60))}`);
    const type = f[sep + 1];
    if (type !== 'cgroup' && type !== 'cgroup2') return;
    const superOptions = f[sep + 3]!.split(',');
    const controllers = type === 'cgroup' ? superOptions.filter((o) => !['rw', 'ro', 'relatime', 'noprefix', 'clone_children', 'xattr', 'cpuset_v2_mode', 'favordynmods'].includes(o) && !o.startsWith('release_agent=')) : [];
    out.push({ type, mountPoint: unescape(f[4]!), root: unescape(f[3]!), controllers });
  });
  return out;
}

/** A v2 single value file that may read `max` (`memory.max`, `memory.high`): bytes, or `'max'` for no limit. */
export function parseCgroupLimit(file: string, text: string): number | 'max' {
  const t = checkString('text', text).trim();
  if (t === 'max') return 'max';
  return parseCgroupValue(file, text);
}

/** A single value file holding an unsigned integer (`memory.current`, `memory.peak`). */
export function parseCgroupValue(file: string, text: string): number {
  const t = checkString('text', text).trim();
  if (t === '') throw new ProcParseError(file, 0, 'the input is empty');
  if (!/^\d+$/.test(t)) throw new ProcParseError(file, 1, `not an unsigned integer: ${JSON.stringify(t.slice(0, 40))}`);
  return safeInt(file, 1, file, t);
}

/** A flat-keyed file (`memory.stat`, `memory.events`): every key as in the file. Amounts in bytes, events as counts. */
export type CgroupFlatKeyed = Record<string, number>;

/**
 * Parses a flat-keyed cgroup file, `key value` a line (`memory.stat`: all
 * keys, as the kernel prints them; new ones appear between releases). A
 * malformed line throws {@link ProcParseError}; a cut last line is dropped.
 */
export function parseCgroupFlatKeyed(file: string, text: string): CgroupFlatKeyed {
  const { lines } = linesOf(file, text);
  const out: CgroupFlatKeyed = {};
  lines.forEach((line, i) => {
    const m = /^(\S+) (-?\d+)$/.exec(line);
    if (!m) throw new ProcParseError(file, i + 1, `not "key value": ${JSON.stringify(line.slice(0, 60))}`);
    out[m[1]!] = safeInt(file, i + 1, m[1]!, m[2]);
  });
  return out;
}

/** One line of a PSI file. */
export interface PressureLine {
  /** Percent of wall time stalled, averaged over 10, 60 and 300 seconds (two decimals, as printed). */
  avg10: number;
  avg60: number;
  avg300: number;
  /** Total stall time in microseconds since the cgroup (or boot) began. */
  total: number;
}

/** Pressure stall information (`memory.pressure`, `/proc/pressure/memory`). */
export interface Pressure {
  /** Some task was stalled on memory. */
  some: PressureLine;
  /** All non-idle tasks were stalled at once; `null` where the file has no `full` line. */
  full: PressureLine | null;
}

/**
 * Parses a PSI file: `some avg10=A avg60=B avg300=C total=T` and, for
 * memory, a `full` line of the same shape. Throws {@link ProcParseError} on
 * a missing `some` line, a missing key or a malformed value.
 */
export function parsePressure(text: string): Pressure {
  const { lines } = linesOf('pressure', text);
  let some: PressureLine | null = null;
  let full: PressureLine | null = null;
  lines.forEach((line, i) => {
    const m = /^(some|full) (.*)$/.exec(line);
    if (!m) throw new ProcParseError('pressure', i + 1, `not "some|full avg10=..": ${JSON.stringify(line.slice(0, 60))}`);
    const kv: Record<string, string> = {};
    for (const pair of m[2]!.trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ProcParseError('pressure', i + 1, `not "key=value": ${JSON.stringify(pair)}`);
      kv[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    const avg = (k: string): number => {
      const v = kv[k];
      if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) throw new ProcParseError('pressure', i + 1, `${k} is not a percentage (${JSON.stringify(v ?? '')})`);
      return Number(v);
    };
    const entry = { avg10: avg('avg10'), avg60: avg('avg60'), avg300: avg('avg300'), total: safeInt('pressure', i + 1, 'total', kv.total) };
    if (m[1] === 'some') some = entry;
    else full = entry;
  });
  if (some === null) throw new ProcParseError('pressure', 0, 'no "some" line');
  return { some, full };
}

/** The v1 memory controller's usage files (cgroup v1 or hybrid hosts). */
export interface CgroupV1Memory {
  /** The process's path in the v1 memory hierarchy (from `/proc/<pid>/cgroup`). */
  path: string;
  /** The directory the files were read from; `null` where the memory hierarchy is not mounted in this mount namespace. */
  dir: string | null;
  /** `memory.usage_in_bytes` (v1's approximate counter, batched per CPU). */
  usage: number | null;
  /** `memory.max_usage_in_bytes`: the high-water mark. */
  maxUsage: number | null;
  /** `memory.limit_in_bytes`; `'max'` when it is v1's "no limit" (PAGE_COUNTER_MAX pages, a value of 2^63 - 1 rounded down to a page), or any value above 2^53 - 1 bytes, which no machine can reach. */
  limit: number | 'max' | null;
}

/** What {@link cgroupMemory} found. */
export interface CgroupMemory {
  /**
   * How cgroups are mounted here: `'v2'` (only cgroup2), `'hybrid'` (v1
   * controllers and a cgroup2 mount), `'v1'` (no cgroup2 mount) or `'none'`.
   */
  hierarchy: 'v2' | 'hybrid' | 'v1' | 'none';
  /** Which hierarchy the memory controller is on for this process: `'v2'`, `'v1'` or `null` (not enabled or not mounted). */
  memoryController: 'v2' | 'v1' | null;
  /** One sentence saying what was found and, when the v2 figures are missing, why. */
  summary: string;
  /** The process's cgroup v2 path (the `0::` line), `null` without one. */
  path: string | null;
  /** The cgroup v2 directory the files were read from, `null` where it could not be located. */
  dir: string | null;
  /** `memory.current`: bytes charged to the cgroup and its descendants now. `null` without the v2 memory controller (and at the root on older kernels). */
  current: number | null;
  /** `memory.peak` (5.19+): the high-water mark of `memory.current`. */
  peak: number | null;
  /** `memory.max`: the hard limit in bytes, `'max'` for none. */
  max: number | 'max' | null;
  /** `memory.high`: the throttle limit in bytes, `'max'` for none. */
  high: number | 'max' | null;
  /** `memory.stat`: every key as the kernel prints it (amounts in bytes, events as counts). */
  stat: CgroupFlatKeyed | null;
  /**
   * `memory.pressure` of the v2 cgroup. It exists wherever cgroup2 is mounted
   * and PSI is on, even without the memory controller; at the root cgroup it
   * is the system-wide figure (`/proc/pressure/memory`).
   */
  pressure: Pressure | null;
  /** The v1 memory controller's figures where memory is on v1, else `null`. */
  v1: CgroupV1Memory | null;
}

/** Resolves a cgroup path under the mount that shows its hierarchy; `null` when the mount's root does not contain it. */
function cgroupDir(mount: CgroupMount, cgPath: string): string | null {
  const rel = path.posix.relative(mount.root, cgPath);
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) return null;
  return path.posix.join(mount.mountPoint, rel);
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'ENODEV' || code === 'EOPNOTSUPP') return null;
    throw err;
  }
}

// v1 prints huge limits; any value past the safe integers is the "no limit" sentinel in practice.
function parseV1Limit(file: string, text: string): number | 'max' {
  const t = text.trim();
  if (/^\d+$/.test(t) && !Number.isSafeInteger(Number(t))) return 'max';
  return parseCgroupValue(file, text);
}

/**
 * Reads the memory figures of the cgroup a process (default `self`) is in.
 * Every file is read once; files this host lacks are `null`, and `summary`
 * says in words which hierarchy the host uses and where the figures came
 * from (for example "hybrid: the memory controller is on cgroup v1; cgroup
 * v2 at /sys/fs/cgroup/unified has no memory controller").
 */
export function cgroupMemory(pid: number | 'self' = 'self'): CgroupMemory {
  const procText = readOrNull(procPath(pid, 'cgroup'));
  const proc = procText === null || procText.trim() === '' ? { unified: null, v1: [] } : parseProcCgroup(procText);
  const mounts = parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  const v2Mount = mounts.find((m) => m.type === 'cgroup2' && proc.unified !== null && cgroupDir(m, proc.unified) !== null) ?? null;
  const hasV2 = mounts.some((m) => m.type === 'cgroup2');
  const hasV1 = mounts.some((m) => m.type === 'cgroup');
  const hierarchy = hasV2 ? (hasV1 ? 'hybrid' : 'v2') : hasV1 ? 'v1' : 'none';

  const dir = v2Mount && proc.unified !== null ? cgroupDir(v2Mount, proc.unified) : null;
  const v2 = (name: string): string | null => (dir === null ? null : readOrNull(`${dir}/${name}`));
  const controllersText = v2('cgroup.controllers');
  const v2Controllers = controllersText === null ? [] : controllersText.trim().split(/\s+/).filter((c) => c !== '');
  const currentText = v2('memory.current');
  const peakText = v2('memory.peak');
  const maxText = v2('memory.max');
  const highText = v2('memory.high');
  const statText = v2('memory.stat');
  const pressureText = v2('memory.pressure');

  // The v1 memory controller, when this process has a line for it.
  const v1Line = proc.v1.find((l) => l.controllers.includes('memory')) ?? null;
  let v1: CgroupV1Memory | null = null;
  if (v1Line !== null) {
    const mount = mounts.find((m) => m.type === 'cgroup' && m.controllers.includes('memory')) ?? null;
    const v1Dir = mount ? cgroupDir(mount, v1Line.path) : null;
    const r = (name: string): string | null => (v1Dir === null ? null : readOrNull(`${v1Dir}/${name}`));
    const usage = r('memory.usage_in_bytes');
    const maxUsage = r('memory.max_usage_in_bytes');
    const limit = r('memory.limit_in_bytes');
    v1 = {
      path: v1Line.path, dir: v1Dir,
      usage: usage === null ? null : parseCgroupValue('memory.usage_in_bytes', usage),
      maxUsage: maxUsage === null ? null : parseCgroupValue('memory.max_usage_in_bytes', maxUsage),
      limit: limit === null ? null : parseV1Limit('memory.limit_in_bytes', limit),
    };
  }

  const memoryController = v2Controllers.includes('memory') || currentText !== null ? 'v2' : v1 !== null ? 'v1' : null;
  const where = dir === null ? '' : ` at ${dir}`;
  let summary: string;
  if (memoryController === 'v2') summary = `cgroup v2${hierarchy === 'hybrid' ? ' (hybrid host)' : ''}: memory figures from ${dir}`;
  else if (hierarchy === 'hybrid') summary = `hybrid: the memory controller is ${v1 ? `on cgroup v1 (${v1.dir ?? v1.path})` : 'not enabled'}; cgroup v2${where} has no memory controller${pressureText !== null ? `, only memory.pressure${proc.unified === '/' ? " (the root cgroup's: system-wide)" : ''}` : ''}`;
  else if (hierarchy === 'v1') summary = `cgroup v1 only (no cgroup2 mount): ${v1 ? `memory controller at ${v1.dir ?? v1.path}` : 'no memory controller'}; no memory.current, memory.stat or memory.pressure`;
  else if (hierarchy === 'v2') summary = `cgroup v2${where}: the memory controller is not enabled for this cgroup (see the parent's cgroup.subtree_control)`;
  else summary = 'no cgroup filesystem is mounted';
  return {
    hierarchy, memoryController, summary, path: proc.unified, dir,
    current: currentText === null ? null : parseCgroupValue('memory.current', currentText),
    peak: peakText === null ? null : parseCgroupValue('memory.peak', peakText),
    max: maxText === null ? null : parseCgroupLimit('memory.max', maxText),
    high: highText === null ? null : parseCgroupLimit('memory.high', highText),
    stat: statText === null ? null : parseCgroupFlatKeyed('memory.stat', statText),
    pressure: pressureText === null || pressureText.trim() === '' ? null : parsePressure(pressureText),
    v1,
  };
}
