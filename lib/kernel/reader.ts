/**
 * Reading a process's `/proc` files for a snapshot: `smaps` once through a
 * kept descriptor (pread from 0 makes the kernel walk again), then
 * `smaps_rollup` right after, `status` for `VmPTE`, the threads' stack
 * pointers and glibc heap headers. Errors keep the kernel's code (`EACCES`,
 * `EPERM`, `ESRCH`, `ENOENT`) and say what to do about permissions.
 * @internal
 */
import * as fs from 'node:fs';
import { kernelHas } from './features';
import { guardRanges } from './pagemap-fd';
import { checkInteger } from '../validate';
import { noSuchProcess, systemError } from '../errors';
import { ptraceScope } from './facts';
import { readStatus } from './status';
import { procPath } from './parse';
import { native } from '../native/binding';

/** The kernel refused: say why reading another process can fail. */
function permissionHint(pid: number | 'self', file: string, err: NodeJS.ErrnoException): Error {
  if (err.code !== 'EACCES' && err.code !== 'EPERM') return err;
  const scope = ptraceScope();
  // CAP_SYS_PTRACE is bit 19 of the effective capability mask.
  let ptraceCap = false;
  try {
    const capEff = readStatus('self').fields.CapEff;
    ptraceCap = typeof capEff === 'string' && (BigInt(`0x${capEff}`) & (1n << 19n)) !== 0n;
  } catch {
    // unknown: said as the general case
  }
  const who = ptraceCap
    ? `this process has CAP_SYS_PTRACE${process.getuid?.() === 0 ? ' (it runs as root)' : ''}, so something else refuses: ` +
      `a Linux security module (AppArmor, SELinux) or a target in another user namespace` +
      (scope === null ? '' : `; kernel.yama.ptrace_scope is ${scope} (3 refuses even CAP_SYS_PTRACE)`)
    : `the same user (and not a setuid/undumpable process), or CAP_SYS_PTRACE (root, or sudo)` +
      (scope === null ? '' : `; kernel.yama.ptrace_scope is ${scope} (1 allows only descendants, 2 only CAP_SYS_PTRACE, 3 nobody)`);
  return systemError(
    err.code ?? 'EACCES',
    err.syscall ?? 'open',
    `cannot read the process's ${file} (pid ${pid}): ${err.code} (the kernel refused). Reading another process's memory maps needs ptrace ` +
      `read access: ${who}.`,
    { path: err.path },
  );
}

/**
 * One read buffer for every reader (reads are synchronous), grown as needed
 * and kept: a snapshot allocates no ArrayBuffer, so it does not move the
 * ArrayBuffer figures it reports. Its pages are written once when it is
 * made (fill), so the kernel's copy of smaps into it faults no page in
 * between the smaps walk and the rollup walk (which the rollup would count
 * and smaps not).
 */
let shared: Buffer = Buffer.allocUnsafeSlow(256 * 1024).fill(0);
const small = Buffer.allocUnsafeSlow(32);

/** What the native smaps scan found: `count` mappings, SCAN_STRIDE numbers each in `columns`, offsets into `text`. */
export interface SmapsScan {
  count: number;
  columns: Float64Array;
  text: Buffer;
}
/** Numbers per mapping in a scan's columns (native smapsScan, smapsReadScan). */
export const SCAN_STRIDE = 23;
/** Mappings the scan's columns hold before they grow (a count of mappings, not bytes). */
export const SCAN_FIRST_ROWS = 1 << 12;
// The scan's kept buffers (as `shared`: written once when made).
let scanColumns = new Float64Array(SCAN_STRIDE * SCAN_FIRST_ROWS).fill(0);
let scanText: Buffer = Buffer.allocUnsafeSlow(256 * 1024).fill(0);
const scanSizes = new Float64Array(2);

/**
 * Present pages in a row that {@link ProcReader.mallocScan} tries as chunk
 * headers before it leaves the rest of a mapping unscanned: 8 MiB of 4 KiB
 * pages, well above the 12 KiB to 1.2 MiB of other memory seen merged with
 * chunks, so a large mapping of something else does not spend the budget.
 */
const MAX_MISSES = 2048;

/** Kept descriptors of one process's files, read again from offset 0 each time. */
export class ProcReader {
  readonly pid: number | 'self';
  readonly dir: string;
  #smaps: number;
  #rollup: number;
  #status: number;
  #mem: number | null | undefined;
  #pagemap: number | null | undefined;

  constructor(pid: number | 'self') {
    this.pid = pid === 'self' ? 'self' : checkInteger('options.pid', pid, 1, 2 ** 22);
    this.dir = procPath(this.pid, '').slice(0, -1); // /proc/PID
    this.#smaps = this.#open('smaps');
    try {
      this.#rollup = this.#open('smaps_rollup');
      this.#status = this.#open('status');
    } catch (err) {
      fs.closeSync(this.#smaps);
      throw err;
    }
  }

  #open(name: string): number {
    try {
      return fs.openSync(`${this.dir}/${name}`, 'r');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT' && this.pid !== 'self') {
        throw noSuchProcess(this.pid, `${this.dir}/${name}: ENOENT`, 'open');
      }
      throw permissionHint(this.pid, name, e);
    }
  }

  /** The whole file behind `fd` as text, from offset 0, read into `shared` from `at` (the text starts there). */
  #readAll(fd: number, name: string, at = 0): string {
    let total = 0;
    try {
      for (;;) {
        if (at + total === shared.length) {
          const bigger = Buffer.allocUnsafeSlow(shared.length * 2).fill(0);
          shared.copy(bigger, 0, 0, at + total);
          shared = bigger;
        }
        const n = fs.readSync(fd, shared, at + total, shared.length - at - total, total);
        if (n === 0) break;
        total += n;
      }
    } catch (err) {
      throw permissionHint(this.pid, name, err as NodeJS.ErrnoException);
    }
    // A process that exited reads as empty.
    if (total === 0) {
      throw noSuchProcess(this.pid, `it has exited: ${this.dir}/${name} is empty`, 'read');
    }
    return shared.toString('latin1', at, at + total);
  }

  smaps(): string {
    return this.#readAll(this.#smaps, 'smaps');
  }

  /**
   * smaps and, right after it, smaps_rollup (when `rollup`), both read as
   * bytes before either is decoded: decoding makes JS strings, and in the
   * calling process their memory would land between the two reads. Returns
   * the smaps bytes (the kept buffer, valid until the next read) and length,
   * and the rollup text.
   */
  smapsThenRollup(rollup: boolean): [Buffer, number, string | null] {
    let n = 0;
    try {
      for (;;) {
        if (n === shared.length) {
          const bigger = Buffer.allocUnsafeSlow(shared.length * 2).fill(0);
          shared.copy(bigger, 0, 0, n);
          shared = bigger;
        }
        const r = fs.readSync(this.#smaps, shared, n, shared.length - n, n);
        if (r === 0) break;
        n += r;
      }
    } catch (err) {
      throw permissionHint(this.pid, 'smaps', err as NodeJS.ErrnoException);
    }
    if (n === 0) {
      throw noSuchProcess(this.pid, `it has exited: ${this.dir}/smaps is empty`, 'read');
    }
    // The rollup (under 2 KiB) goes after the smaps bytes in the same buffer.
    const rollupText = rollup ? this.#readAll(this.#rollup, 'smaps_rollup', n) : null;
    return [shared, n, rollupText];
  }

  /**
   * {@link smapsThenRollup} with smaps read and scanned in one native pass
   * (64 KiB pieces, each scanned while in cache; only the mapping and
   * VmFlags lines copied out): `scan` holds the result, valid until the next
   * read. Where the scan does not take the text (or a read failed), smaps is
   * read again as bytes (`scan` null), for the parser and its error.
   */
  smapsScanThenRollup(rollup: boolean): { scan: SmapsScan | null; bytes: Buffer; length: number; rollupText: string | null } {
    let n: number;
    while ((n = native.smapsReadScan(this.#smaps, scanColumns, scanText, scanSizes)) === -2) {
      // Grown and written through once now, so that no page of them is first touched during a read.
      scanColumns = new Float64Array(scanColumns.length * 2).fill(0);
      scanText = Buffer.allocUnsafeSlow(scanText.length * 2).fill(0);
    }
    if (n <= 0) {
      const [bytes, length, rollupText] = this.smapsThenRollup(rollup);
      return { scan: null, bytes, length, rollupText };
    }
    const rollupText = rollup ? this.#readAll(this.#rollup, 'smaps_rollup') : null;
    return { scan: { count: n, columns: scanColumns, text: scanText }, bytes: shared, length: 0, rollupText };
  }

  status(): string {
    return this.#readAll(this.#status, 'status');
  }

  /**
   * Whether the process has begun to exit (PF_EXITING, 0x4, in the flags
   * field of stat): its mappings are being torn down, so a snapshot now
   * describes no running program. A process that is gone counts as exiting.
   */
  exiting(): boolean {
    if (this.pid === 'self') return false;
    try {
      const fd = fs.openSync(`${this.dir}/stat`, 'r');
      let text: string;
      try {
        text = shared.toString('latin1', 0, fs.readSync(fd, shared, 0, 1024, 0));
      } finally {
        fs.closeSync(fd);
      }
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // fields[0] is field 3 (state); flags is field 9.
      return fields[0] === 'Z' || fields[0] === 'X' || (Number(fields[6]) & 0x4) !== 0;
    } catch {
      return true;
    }
  }

  /**
   * Stack pointers of the process's threads from `task/TID/syscall` (the
   * second-last field, for a thread blocked or stopped; a running thread
   * says `running` and is left out).
   */
  threadStackPointers(): bigint[] {
    const out: bigint[] = [];
    let tids: string[];
    try {
      tids = fs.readdirSync(`${this.dir}/task`);
    } catch {
      return out;
    }
    for (const tid of tids) {
      let text: string;
      try {
        const fd = fs.openSync(`${this.dir}/task/${tid}/syscall`, 'r');
        try {
          text = shared.toString('latin1', 0, fs.readSync(fd, shared, 0, 256, 0));
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        continue; // exited meanwhile, or not permitted: the shape rule remains
      }
      const f = text.trim().split(' ');
      if (f.length < 3 || f[0] === 'running') continue;
      const sp = f[f.length - 2]!;
      if (/^0x[0-9a-f]+$/.test(sp)) out.push(BigInt(sp));
    }
    return out;
  }

  /**
   * glibc mmapped chunks in [start, end), which may be one mapping the
   * kernel merged from several (chunks beside each other and beside other
   * anonymous memory of the same protection). From `start`, each present
   * page is tried as a chunk header (prev_size 0 or an alignment pad below
   * a page, size with IS_MMAPPED set and PREV_INUSE/NON_MAIN_ARENA clear, a
   * page multiple that fits): a header skips the chunk, anything else the
   * page. With `exact`, the first page must be a header and the chunks must
   * end exactly at `end` (the walk stops at the first non-header). Pages
   * the pagemap does not show present are never read (a read would fault a
   * swapped page back in or allocate an untouched one), nor tried as a
   * header. Returns the chunks' virtual bytes, the present pages in them and
   * in the whole range, and whether the chunks cover it exactly; null when
   * the pagemap or memory cannot be read. At most `budget` headers are read
   * per snapshot (the rest counts as no chunk).
   */
  mallocScan(start: bigint, end: bigint, page: number, exact: boolean): { bytes: number; present: number; presentInChunks: number; whole: boolean } | null {
    const b = small.subarray(0, 16);
    const pg = BigInt(page);
    let at = start;
    let bytes = 0n;
    let presentInChunks = 0;
    let present = 0;
    let misses = 0;
    const countPresent = (from: bigint, to: bigint): number | null => {
      let n = 0;
      for (let p = from; p < to; p += pg) {
        const r = this.#pagePresent(p, page, end);
        if (r === null) return null;
        if (r) n++;
      }
      return n;
    };
    while (at < end) {
      const here = this.#pagePresent(at, page, end);
      if (here === null) return null;
      let len = 0n;
      if (here && this.budget-- > 0 && this.#readMemRaw(b, at)) {
        const prev = b.readBigUInt64LE(0);
        const size = b.readBigUInt64LE(8);
        const l = size & ~7n;
        if (prev < pg && (size & 7n) === 2n && l !== 0n && l % pg === 0n && at + l <= end) len = l;
      }
      if (len === 0n) {
        if (exact) return { bytes: Number(bytes), present: 0, presentInChunks: 0, whole: false };
        if (here) {
          present++;
          // A long run of other memory: the rest of the mapping is left unscanned (its present pages counted).
          if (++misses > MAX_MISSES) {
            const n = countPresent(at + pg, end);
            if (n === null) return null;
            present += n;
            break;
          }
        }
        at += pg;
        continue;
      }
      misses = 0;
      const n = countPresent(at, at + len);
      if (n === null) return null;
      presentInChunks += n;
      present += n;
      bytes += len;
      at += len;
    }
    return { bytes: Number(bytes), present, presentInChunks, whole: bytes === end - start && bytes > 0n };
  }

  /** Present pages in [start, end) from the pagemap (nothing of the memory read), or null when the pagemap cannot be read. */
  presentPages(start: bigint, end: bigint, page: number): number | null {
    let n = 0;
    for (let p = start; p < end; p += BigInt(page)) {
      const r = this.#pagePresent(p, page, end);
      if (r === null) return null;
      if (r) n++;
    }
    return n;
  }

  /** Whether {@link mallocScan} finds [start, end) wholly made of glibc mmapped chunks. */
  mallocChunks(start: bigint, end: bigint, page: number): boolean {
    return this.mallocScan(start, end, page, true)?.whole === true;
  }

  /** Headers {@link mallocScan} may still read in this snapshot. */
  budget = 0;

  /** A window of pagemap entries, read once per snapshot and range. */
  #pm: Buffer = Buffer.allocUnsafeSlow(64 * 1024).fill(0);
  #pmFirst = -1n;
  #pmCount = 0;

  /**
   * Starts a snapshot's reads of the process's memory: `budget` chunk
   * headers at most, and the pagemap read afresh (pages come and go).
   */
  startMemoryReads(budget: number): void {
    this.budget = budget;
    this.#pmFirst = -1n;
    this.#pmCount = 0;
  }

  /**
   * Whether the page at `addr` is present (pagemap bit 63), or null when the
   * pagemap cannot be read. A read fills the window from `addr` up to
   * `until` (the end of the range asked about) at most: the kernel walks
   * every page a read covers, so a window past the range would cost a walk
   * of address space (often holes) nobody asked about.
   */
  #pagePresent(addr: bigint, page: number, until: bigint): boolean | null {
    const pg = BigInt(page);
    const idx = addr / pg;
    if (this.#pmFirst < 0n || idx < this.#pmFirst || idx >= this.#pmFirst + BigInt(this.#pmCount)) {
      if (this.#pagemap === undefined) this.#pagemap = this.#openOptional('pagemap');
      if (this.#pagemap === null) return null;
      const pages = (until + pg - 1n) / pg - idx;
      const want = pages < 1n ? 8 : pages >= BigInt(this.#pm.length / 8) ? this.#pm.length : Number(pages) * 8;
      let n: number;
      try {
        n = fs.readSync(this.#pagemap, this.#pm, 0, want, Number(idx * 8n));
      } catch {
        return null;
      }
      if (n < 8) return null;
      this.#pmFirst = idx;
      this.#pmCount = Math.floor(n / 8);
    }
    const off = Number(idx - this.#pmFirst) * 8;
    return (this.#pm.readBigUInt64LE(off) >> 63n) === 1n;
  }

  /** Opens a file of the process read-only, or null when it cannot be opened (permissions, or the process is gone). */
  #openOptional(name: string): number | null {
    try {
      return fs.openSync(`${this.dir}/${name}`, 'r');
    } catch {
      return null;
    }
  }

  /** Reads b.length bytes at `at` (within one page) when the page is present: never faults one in. */
  #readMem(b: Buffer, at: bigint, page: number): boolean {
    return this.#pagePresent(at, page, at + BigInt(page)) === true && this.#readMemRaw(b, at);
  }

  #readMemRaw(b: Buffer, at: bigint): boolean {
    if (this.#mem === undefined) this.#mem = this.#openOptional('mem');
    if (this.#mem === null) return false;
    try {
      return fs.readSync(this.#mem, b, 0, b.length, at) === b.length;
    } catch {
      return false;
    }
  }

  /**
   * Guard-page ranges `[start, end, ...]` in `[start, end)` by one
   * `PAGEMAP_SCAN` for `PAGE_IS_GUARD` on the process's pagemap, or null
   * where the kernel cannot tell or the pagemap cannot be read.
   */
  guardRanges(start: bigint, end: bigint): bigint[] | null {
    if (!kernelHas('guardReport')) return null;
    if (this.#pagemap === undefined) this.#pagemap = this.#openOptional('pagemap');
    if (this.#pagemap === null) return null;
    try {
      return guardRanges(start, end, this.#pagemap);
    } catch {
      return null; // the process exited, or a range the kernel refuses: unknown
    }
  }

  /** glibc `heap_info` at `start` (ar_ptr, prev, size, mprotect_size), or null when /proc/PID/mem cannot be read or the page is not present (not read then). */
  heapInfo(start: bigint, page: number): { arena: bigint; size: number; mprotectSize: number } | null {
    const b = small;
    if (!this.#readMem(b, start, page)) return null;
    return { arena: b.readBigUInt64LE(0), size: Number(b.readBigUInt64LE(16)), mprotectSize: Number(b.readBigUInt64LE(24)) };
  }

  close(): void {
    for (const fd of [this.#smaps, this.#rollup, this.#status, this.#mem, this.#pagemap]) {
      if (typeof fd === 'number') {
        try {
          fs.closeSync(fd);
        } catch {
          // already closed
        }
      }
    }
    this.#mem = null;
    this.#pagemap = null;
  }
}
