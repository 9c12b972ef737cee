/**
 * Facts about the running kernel, read at run time and cached where they
 * cannot change while the process lives: page sizes, THP and hugetlbfs
 * settings, sysctls and perf paranoia. What the kernel supports is probed in
 * ./features.
 */
import * as fs from 'node:fs';
import { native } from '../native/binding';
import { parseMeminfo } from './meminfo';
import { parseSelection } from './thp';

const THP_DIR = '/sys/kernel/mm/transparent_hugepage';

function readTrim(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

let cachedPage = 0;

/** The base page size, from `sysconf(_SC_PAGESIZE)` (4K, 16K or 64K on arm64). */
export function pageSize(): number {
  if (!cachedPage) cachedPage = native.pageSize();
  return cachedPage;
}

let cachedThp: number | null | undefined;

/**
 * The transparent huge page size in bytes, from
 * `/sys/kernel/mm/transparent_hugepage/hpage_pmd_size` (2 MiB with 4K pages,
 * 32 MiB with 16K, 512 MiB with 64K), or `null` where the kernel has no THP.
 */
export function hugePageSize(): number | null {
  if (cachedThp === undefined) {
    const n = Number(readTrim(`${THP_DIR}/hpage_pmd_size`) ?? NaN);
    cachedThp = Number.isSafeInteger(n) && n > 0 ? n : null;
  }
  return cachedThp;
}

/**
 * The `[selected]` word of a THP choice file (`enabled`: `always`,
 * `madvise`, `never`; `defrag`), or `null` where the file is absent or has
 * no selection. Read each call: an administrator may change it.
 */
export function thpSetting(name: 'enabled' | 'defrag' | 'shmem_enabled'): string | null {
  const text = readTrim(`${THP_DIR}/${name}`);
  try {
    return text === null ? null : parseSelection(name, text).selected;
  } catch {
    return null; // no single [selected] word
  }
}

/** THP mode (`always`, `madvise`, `never`) or `null` without THP. */
export function thpMode(): string | null {
  return thpSetting('enabled');
}

/** hugetlbfs page sizes the kernel offers, with their free page counts. */
export function hugetlbPools(): { size: number; total: number; free: number }[] {
  const dir = '/sys/kernel/mm/hugepages';
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: { size: number; total: number; free: number }[] = [];
  for (const name of names) {
    const m = /^hugepages-(\d+)kB$/.exec(name);
    if (!m) continue;
    const read = (f: string): number => Number(readTrim(`${dir}/${name}/${f}`) ?? 0) || 0;
    out.push({ size: Number(m[1]) * 1024, total: read('nr_hugepages'), free: read('free_hugepages') });
  }
  return out.sort((a, b) => a.size - b.size);
}

/**
 * One `kB` field of `/proc/meminfo` in bytes (`'Committed_AS'`,
 * `'CommitLimit'`, `'Hugepagesize'`...), or `null` when unreadable or absent.
 * Read each call (for every field at once, see `readMeminfo`).
 */
export function meminfoBytes(key: string): number | null {
  const text = readTrim('/proc/meminfo');
  if (text === null) return null;
  try {
    return parseMeminfo(text)[key] ?? null;
  } catch {
    return null; // a malformed line
  }
}

let cachedHugetlb: number | null | undefined;

/** The default hugetlbfs page size (`Hugepagesize` of `/proc/meminfo`), or `null`. Cached. */
export function hugetlbDefaultSize(): number | null {
  if (cachedHugetlb === undefined) cachedHugetlb = meminfoBytes('Hugepagesize');
  return cachedHugetlb;
}

/** A number of `/proc/sys/vm/NAME` (`overcommit_memory`, `max_map_count`...), or `null` when unreadable or empty. */
export function vmSysctl(name: string): number | null {
  const t = readTrim(`/proc/sys/vm/${name}`);
  return t === null || t === '' ? null : Number(t);
}

/** `kernel.perf_event_paranoid` as text, or `'unreadable'`. */
export function perfEventParanoid(): string {
  return readTrim('/proc/sys/kernel/perf_event_paranoid') ?? 'unreadable';
}

/** `kernel.yama.ptrace_scope` as text, or `null` without Yama. */
export function ptraceScope(): string | null {
  return readTrim('/proc/sys/kernel/yama/ptrace_scope');
}

/** The `ignore_rlimit_data` kernel parameter (`'Y'`/`'N'`), or `null` when unreadable. */
export function ignoreRlimitData(): string | null {
  return readTrim('/sys/module/kernel/parameters/ignore_rlimit_data');
}
