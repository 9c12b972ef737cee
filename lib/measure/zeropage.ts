/**
 * Does a read fault of fresh anonymous memory map the shared zero page on
 * this kernel? Most kernels do (the page costs no RSS until written); some
 * configurations and VMs were measured not to (every read fault allocates).
 * Measured once, on a few fresh pages, then cached.
 */
import { native } from '../native/binding';
import { pageSize } from '../kernel/system';
import { readSmaps } from '../kernel/smaps';
import { PM_EXCLUSIVE, PM_PFN_MASK, PM_PRESENT } from '../kernel/pagemap';

const C = native.constants;

/** What {@link zeroPageBehaviour} found and how. */
export interface ZeroPageBehaviour {
  /** True when a read fault of fresh private anonymous memory maps the shared zero page (no RSS). */
  readFaultMapsZeroPage: boolean;
  /**
   * How it was decided: `'pagemap_scan'` (the `PAGE_IS_PFNZERO` category of
   * `ioctl(PAGEMAP_SCAN)`, Linux 6.7+), `'pagemap_pfn'` (pagemap entries:
   * one shared PFN where PFNs are visible, else the exclusively-mapped bit,
   * which the zero page never has), or `'rss_delta'` (the mapping's own
   * `smaps` Rss after the reads).
   */
  method: 'pagemap_scan' | 'pagemap_pfn' | 'rss_delta';
  /** The numbers behind the verdict. */
  detail: string;
}

const PROBE_PAGES = 4;
let cached: ZeroPageBehaviour | undefined;
let zeroPfn = 0n;

/** @internal The zero page's PFN where the probe saw it and PFNs are visible (CAP_SYS_ADMIN), else 0n. */
export function knownZeroPfn(): bigint {
  return zeroPfn;
}

/**
 * Detects whether a read fault of fresh anonymous memory maps the shared
 * zero page on the running kernel: maps {@link PROBE_PAGES} fresh
 * `MADV_NOHUGEPAGE` pages, reads one byte of each, and asks the page tables.
 * Cached after the first call.
 */
export function zeroPageBehaviour(): ZeroPageBehaviour {
  if (cached) return cached;
  const page = pageSize();
  const len = PROBE_PAGES * page;
  const region = native.mmap(len, C.PROT_READ | C.PROT_WRITE, C.MAP_PRIVATE | C.MAP_ANONYMOUS, -1, 0, 0n, 0);
  try {
    try {
      native.madvise(region, 0, len, C.MADV_NOHUGEPAGE);
    } catch {
      // a kernel without THP: nothing to turn off
    }
    const bytes = new Uint8Array(native.regionBuffer(region, 0, len));
    let sum = 0;
    for (let i = 0; i < PROBE_PAGES; i++) sum += bytes[i * page]!;
    if (sum !== 0) throw new Error('pagewise: fresh anonymous memory did not read as zero');
    const raw = new BigUint64Array(PROBE_PAGES);
    let rawOk = true;
    try {
      native.pagemapRead(region, 0, len, raw);
    } catch {
      rawOk = false;
    }
    const pfns = rawOk ? [...raw].filter((e) => (e & PM_PRESENT) !== 0n).map((e) => e & PM_PFN_MASK) : [];
    const scan = new Float64Array(6);
    const rc = native.pagemapScan(region, 0, len, scan);
    if (rc === 0) {
      const zero = scan[2]!;
      if (zero > 0 && pfns.length > 0 && pfns[0] !== 0n) zeroPfn = pfns[0]!;
      cached = {
        readFaultMapsZeroPage: zero === PROBE_PAGES,
        method: 'pagemap_scan',
        detail: `${PROBE_PAGES} fresh pages read: PAGEMAP_SCAN reports ${scan[0]} present, ${zero} PAGE_IS_PFNZERO`,
      };
      return cached;
    }
    if (rawOk && pfns.length === PROBE_PAGES) {
      const visible = pfns.every((p) => p !== 0n);
      const exclusive = [...raw].filter((e) => (e & PM_EXCLUSIVE) !== 0n).length;
      if (visible) {
        const distinct = new Set(pfns).size;
        if (distinct === 1) zeroPfn = pfns[0]!;
        cached = {
          readFaultMapsZeroPage: distinct === 1,
          method: 'pagemap_pfn',
          detail: `${PROBE_PAGES} fresh pages read: ${distinct} distinct PFN(s), ${exclusive} exclusively mapped (PAGEMAP_SCAN errno ${rc})`,
        };
      } else {
        cached = {
          readFaultMapsZeroPage: exclusive === 0,
          method: 'pagemap_pfn',
          detail: `${PROBE_PAGES} fresh pages read: PFNs hidden (no CAP_SYS_ADMIN), ${exclusive} carry the exclusively-mapped bit (the zero page never does) (PAGEMAP_SCAN errno ${rc})`,
        };
      }
      return cached;
    }
    const addr = native.regionAddress(region);
    const entry = readSmaps().find((e) => e.start <= addr && addr < e.end);
    const rssPages = entry ? entry.rss / page : -1;
    cached = {
      readFaultMapsZeroPage: rssPages === 0,
      method: 'rss_delta',
      detail: `${PROBE_PAGES} fresh pages read: the mapping's smaps Rss is ${rssPages} pages`,
    };
    return cached;
  } finally {
    native.munmap(region);
  }
}
