/** `/proc/<pid>/statm`: seven page counts on one line. */
import * as fs from 'node:fs';
import { pageSize } from './facts';
import { checkInteger } from '../validate';
import { linesOf, procPath, ProcParseError, safeInt } from './parse';

/** `/proc/<pid>/statm` in bytes (page counts times the page size), with the raw page counts. */
export interface Statm {
  /** Total program size (VmSize), bytes. */
  size: number;
  /** Resident set size, bytes. Approximate: the kernel's per-CPU RSS counters (proc_pid_statm(5)). */
  resident: number;
  /** Resident file-backed and shared-memory pages (RssFile + RssShmem), bytes. */
  shared: number;
  /** Text (code), bytes. */
  text: number;
  /** Library (unused since Linux 2.6, always 0). */
  lib: number;
  /** Data + stack, bytes. */
  data: number;
  /** Dirty pages (unused since Linux 2.6, always 0). */
  dt: number;
  /** The same seven fields in pages, as in the file. */
  pages: { size: number; resident: number; shared: number; text: number; lib: number; data: number; dt: number };
  /** The page size used to convert. */
  pageSize: number;
}

const NAMES = ['size', 'resident', 'shared', 'text', 'lib', 'data', 'dt'] as const;

/**
 * Parses `statm` text. `page` is the page size of the kernel that wrote it
 * (default: this kernel's). Throws {@link ProcParseError} unless the line
 * holds seven integers.
 */
export function parseStatm(text: string, page: number = pageSize()): Statm {
  checkInteger('page', page, 1);
  const { lines } = linesOf('statm', text, false);
  const parts = (lines[0] ?? '').trim().split(/\s+/);
  if (parts.length < 7) throw new ProcParseError('statm', 1, `expected 7 fields, found ${parts.length} (truncated?)`);
  const pages = {} as Statm['pages'];
  NAMES.forEach((name, i) => {
    pages[name] = safeInt('statm', 1, name, parts[i]);
  });
  return {
    size: pages.size * page, resident: pages.resident * page, shared: pages.shared * page, text: pages.text * page,
    lib: pages.lib * page, data: pages.data * page, dt: pages.dt * page, pages, pageSize: page,
  };
}

/** Reads and parses `/proc/<pid>/statm` (default `self`) once. */
export function readStatm(pid: number | 'self' = 'self'): Statm {
  return parseStatm(fs.readFileSync(procPath(pid, 'statm'), 'utf8'));
}
