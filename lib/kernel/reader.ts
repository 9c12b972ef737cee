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
   * Whether [start, end) is made of glibc mmapped chunks only: from
   * `start`, each chunk header (prev_size 0 or an alignment pad below a
   * page, size with IS_MMAPPED set and PREV_INUSE/NON_MAIN_ARENA clear, a
   * page multiple) leads to the next, ending exactly at `end`. At most
   * `limit` headers are read per snapshot (the rest stays in the pool).
   */
  mallocChunks(start: bigint, end: bigint, page: number): boolean {
    const b = small.subarray(0, 16);
    let at = start;
    while (at < end) {
      if (this.budget-- <= 0) return false;
      if (!this.#readMem(b, at)) return false;
      const prev = b.readBigUInt64LE(0);
      const size = b.readBigUInt64LE(8);
      if (prev >= BigInt(page) || (size & 7n) !== 2n) return false;
      const len = size & ~7n;
      if (len === 0n || len % BigInt(page) !== 0n || at + len > end) return false;
      at += len;
    }
    return at === end;
  }

  /** Headers {@link mallocChunks} may still read in this snapshot. */
  budget = 0;

  /** Opens a file of the process read-only, or null when it cannot be opened (permissions, or the process is gone). */
  #openOptional(name: string): number | null {
    try {
      return fs.openSync(`${this.dir}/${name}`, 'r');
    } catch {
      return null;
    }
  }

  #readMem(b: Buffer, at: bigint): boolean {
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

  /** glibc `heap_info` at `start` (ar_ptr, prev, size, mprotect_size), or null when /proc/PID/mem cannot be read. */
  heapInfo(start: bigint): { arena: bigint; size: number; mprotectSize: number } | null {
    const b = small;
    if (!this.#readMem(b, start)) return null;
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
