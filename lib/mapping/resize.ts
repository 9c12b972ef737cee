/**
 * What `Mapping.resize` checks before `mremap`: the new length, and for a
 * file mapping that grows, that its file reaches the new end.
 */
import * as fs from 'node:fs';
import { roundUp } from '../kernel/system';
import { checkInteger } from '../validate';
import { invalidState, invalidValue, outOfRange } from '../errors';
import type { ResizeOptions } from './method-options';

/** Captured at load: later patches of `Number` do not reach the range checks. */
const isSafeInteger = Number.isSafeInteger;

/** The file behind a file mapping, as it was at mmap time (for resize()). */
export interface FileInfo {
  fd: number;
  offset: number;
  dev: number;
  ino: number;
}

/** The `length` asked of resize(), checked and rounded up to whole pages of `page` bytes. */
export function resizeLength(length: number, page: number, hugePages: boolean): number {
  checkInteger('length', length, 1);
  const len = roundUp(length, page);
  if (!isSafeInteger(len)) throw outOfRange('length', `<= ${Number.MAX_SAFE_INTEGER - page}`, length);
  if (hugePages && len % page !== 0) throw outOfRange('length', `a multiple of the huge page size ${page}`, length);
  return len;
}

/**
 * Throws unless the file `f` behind a file mapping reaches `len` bytes past
 * its offset, read through `o.fd` or else the descriptor it was mapped with
 * (`length` is what the caller asked for, named in the error).
 */
export function checkFileGrowth(f: FileInfo | null, o: Partial<ResizeOptions>, len: number, length: number, page: number): void {
  if (!f) throw invalidState('Growing this file mapping needs its file, which could not be identified when it was mapped');
  const fd = o.fd !== undefined ? checkInteger('options.fd', o.fd, 0, 2 ** 31 - 1) : f.fd;
  let st: fs.Stats | null;
  try {
    st = fs.fstatSync(fd);
  } catch {
    st = null;
  }
  if (st && (st.dev !== f.dev || st.ino !== f.ino)) {
    if (o.fd !== undefined) throw invalidValue('options.fd', 'is not the file this mapping maps', o.fd);
    st = null;
  }
  if (!st) throw invalidState('Growing a file mapping needs its file to check its length: pass { fd } (the descriptor it was mapped with is closed or reused)');
  const end = roundUp(st.size, page);
  if (f.offset + len > end) {
    throw outOfRange('length', `<= ${Math.max(0, end - f.offset)} (the file has ${st.size} bytes from offset ${f.offset}; a page past its end is a SIGBUS on access: grow the file first)`, length);
  }
}
