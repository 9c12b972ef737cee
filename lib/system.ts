/**
 * Facts about the running kernel and Node, read at run time (never a
 * literal page size).
 */
import * as fs from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { native } from './native';

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
    try {
      const n = Number(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/hpage_pmd_size', 'utf8').trim());
      cachedThp = Number.isSafeInteger(n) && n > 0 ? n : null;
    } catch {
      cachedThp = null;
    }
  }
  return cachedThp;
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
    const read = (f: string): number => {
      try {
        return Number(fs.readFileSync(`${dir}/${name}/${f}`, 'utf8').trim()) || 0;
      } catch {
        return 0;
      }
    };
    out.push({ size: Number(m[1]) * 1024, total: read('nr_hugepages'), free: read('free_hugepages') });
  }
  return out.sort((a, b) => a.size - b.size);
}

/** The largest ArrayBuffer the running Node allows (2^32 on Node 20). */
export function maxArrayBufferLength(): number {
  return bufferConstants.MAX_LENGTH;
}

/** Rounds `n` up to a multiple of `page`. */
export function roundUp(n: number, page: number = pageSize()): number {
  return Math.ceil(n / page) * page;
}
