/**
 * `/proc/<pid>/pagemap`: one 64-bit entry per virtual page
 * (Documentation/admin-guide/mm/pagemap.rst). The bit layout, a decoder and a
 * reader; the native side writes the same bits once, in native/uapi.h.
 */
import * as fs from 'node:fs';
import { pageSize } from './facts';
import { procPath } from './parse';

/** Bits 0-54: the page frame number when present (0 without CAP_SYS_ADMIN), swap type and offset when swapped. */
export const PM_PFN_MASK = (1n << 55n) - 1n;
/** Bit 55: the page is soft-dirty (written since the soft-dirty bits were cleared). */
export const PM_SOFT_DIRTY = 1n << 55n;
/** Bit 56: the page is exclusively mapped (this process maps it, and nobody else; never the shared zero page). Linux 4.2+. */
export const PM_EXCLUSIVE = 1n << 56n;
/** Bit 57: the pte is userfaultfd write-protected. Linux 5.13+. */
export const PM_UFFD_WP = 1n << 57n;
/** Bit 58: the page is part of a guard region (`MADV_GUARD_INSTALL`). Linux 6.15+. */
export const PM_GUARD_REGION = 1n << 58n;
/** Bit 61: a file page or shared anonymous page. */
export const PM_FILE = 1n << 61n;
/** Bit 62: the page is swapped out. */
export const PM_SWAP = 1n << 62n;
/** Bit 63: the page is present in RAM. */
export const PM_PRESENT = 1n << 63n;

/** One decoded pagemap entry. */
export interface PagemapEntry {
  present: boolean;
  swapped: boolean;
  /** File page or shared anonymous page. */
  file: boolean;
  /** Mapped by this process only. */
  exclusive: boolean;
  softDirty: boolean;
  /** Bits 0-54: the PFN when present (0 when hidden), the swap entry when swapped, 0 otherwise. */
  pfn: bigint;
}

/** Decodes one entry. */
export function decodePagemapEntry(e: bigint): PagemapEntry {
  return {
    present: (e & PM_PRESENT) !== 0n,
    swapped: (e & PM_SWAP) !== 0n,
    file: (e & PM_FILE) !== 0n,
    exclusive: (e & PM_EXCLUSIVE) !== 0n,
    softDirty: (e & PM_SOFT_DIRTY) !== 0n,
    pfn: e & PM_PFN_MASK,
  };
}

/**
 * Reads the raw entries of `pages` pages from `address` (page-aligned) with
 * one `pread` of `/proc/<pid>/pagemap`; entries past a short read are 0 (not
 * present). Throws the `fs` error where pagemap is unreadable.
 */
export function readPagemap(address: bigint, pages: number, pid: number | 'self' = 'self', page: number = pageSize()): BigUint64Array {
  const out = new BigUint64Array(pages);
  const fd = fs.openSync(procPath(pid, 'pagemap'), 'r');
  try {
    fs.readSync(fd, out, 0, out.byteLength, Number((address / BigInt(page)) * 8n));
  } finally {
    fs.closeSync(fd);
  }
  return out;
}
