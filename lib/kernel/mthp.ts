/**
 * Multi-size THP (mTHP): the per-size directories
 * `/sys/kernel/mm/transparent_hugepage/hugepages-<N>kB/` with `enabled`
 * (Linux 6.8), `stats/*` counters (6.10: anonymous fault and swap-out counters;
 * later kernels add more: shmem, split, `nr_anon`, swap-in, ...; the parser
 * keeps whatever files are there) and `shmem_enabled` (6.11). The PMD size
 * (`hugepages-2048kB` with 4K pages) has a directory too; its `inherit`
 * follows the top-level `enabled`.
 */
import * as fs from 'node:fs';
import { checkObject, checkString } from '../validate';
import { ProcParseError, safeInt } from './parse';
import { parseSelection } from './thp';

/** One mTHP size. `null` fields are files this kernel does not have for this size. */
export interface MthpSize {
  /** Bytes of one folio of this size (a power of two, larger than the page size). */
  size: number;
  /**
   * `enabled`: `'always'`, `'inherit'` (follow the top-level THP mode),
   * `'madvise'` or `'never'`, for anonymous memory. `null` where the kernel
   * offers this size to shmem only (6.18 with 4K pages: `hugepages-8kB`,
   * order 1, has `shmem_enabled` but no `enabled`).
   */
  enabled: string | null;
  /** `shmem_enabled` (6.11+): `'always'`, `'inherit'`, `'within_size'`, `'advise'` or `'never'`; `null` before 6.11. */
  shmemEnabled: string | null;
  /**
   * Every counter in `stats/` by file name (`anon_fault_alloc`,
   * `anon_fault_fallback`, `swpout`, `split`, `nr_anon`, ...), as the kernel
   * counts them: events or folios of this size, not bytes. `null` without a
   * `stats/` directory (before 6.10).
   */
  stats: Record<string, number> | null;
}

/** mTHP state by size in bytes (integer keys iterate in ascending order). */
export type Mthp = Record<number, MthpSize>;

/**
 * The files {@link parseMthp} reads, named by their path under
 * `transparent_hugepage/`: `'hugepages-64kB/enabled'`,
 * `'hugepages-64kB/shmem_enabled'`, `'hugepages-64kB/stats/anon_fault_alloc'`.
 * Other names are ignored.
 */
export type MthpFiles = Record<string, string | undefined>;

const NAME = /^hugepages-(\d+)kB\/(enabled|shmem_enabled|stats\/([A-Za-z0-9_]+))$/;

/**
 * Parses the per-size mTHP files given by name. A size appears when any of
 * its files is given. Throws {@link ProcParseError} on a choice file without
 * exactly one `[selected]` word or a counter that is not an unsigned integer.
 */
export function parseMthp(files: MthpFiles): Mthp {
  checkObject('files', files);
  const out: Mthp = {};
  for (const name of Object.keys(files)) {
    const m = NAME.exec(name);
    if (!m || files[name] === undefined) continue;
    const text = checkString(`files['${name}']`, files[name]);
    const size = safeInt(name, 0, 'the size', m[1]) * 1024;
    const entry = (out[size] ??= { size, enabled: null, shmemEnabled: null, stats: null });
    if (m[2] === 'enabled') entry.enabled = parseSelection(name, text).selected;
    else if (m[2] === 'shmem_enabled') entry.shmemEnabled = parseSelection(name, text).selected;
    else {
      const t = text.trim();
      if (!/^\d+$/.test(t)) throw new ProcParseError(name, 1, `not an unsigned integer: ${JSON.stringify(t.slice(0, 40))}`);
      (entry.stats ??= {})[m[3]!] = safeInt(name, 1, m[3]!, t);
    }
  }
  return out;
}

const THP_DIR = '/sys/kernel/mm/transparent_hugepage';

/**
 * Reads every `hugepages-<N>kB/` directory of the running kernel (each file
 * once). Returns `null` where the kernel has no per-size THP at all: before
 * Linux 6.8, or built without `CONFIG_TRANSPARENT_HUGEPAGE`. Within a size,
 * files the kernel lacks are `null` (see {@link MthpSize}).
 */
export function mthp(): Mthp | null {
  let dirs: string[];
  try {
    dirs = fs.readdirSync(THP_DIR).filter((d) => /^hugepages-\d+kB$/.test(d));
  } catch {
    return null;
  }
  if (dirs.length === 0) return null;
  const files: MthpFiles = {};
  const read = (name: string): void => {
    try {
      files[name] = fs.readFileSync(`${THP_DIR}/${name}`, 'utf8');
    } catch {
      // absent for this size on this kernel: reported as null
    }
  };
  for (const d of dirs) {
    read(`${d}/enabled`);
    read(`${d}/shmem_enabled`);
    let stats: string[] = [];
    try {
      stats = fs.readdirSync(`${THP_DIR}/${d}/stats`);
    } catch {
      stats = [];
    }
    for (const s of stats) read(`${d}/stats/${s}`);
  }
  const out = parseMthp(files);
  // A directory none of whose files could be read still names a size.
  for (const d of dirs) {
    const size = Number(/^hugepages-(\d+)kB$/.exec(d)![1]) * 1024;
    out[size] ??= { size, enabled: null, shmemEnabled: null, stats: null };
  }
  return out;
}
