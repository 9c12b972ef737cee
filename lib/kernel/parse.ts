/**
 * Shared pieces of the `/proc` parsers: the error they throw on input they
 * cannot make sense of, and small helpers. Parsers are pure functions over
 * text: they never read files, and they never throw anything but
 * {@link ProcParseError} for bad text (a `TypeError` only for a non-string
 * argument, before any parsing).
 */
import { checkInteger, checkString } from '../validate';

/**
 * Thrown by a `/proc` parser for text it cannot parse: empty input, a
 * malformed line, a missing required field. `file` names the format
 * (`'statm'`, `'maps'`...), `line` is 1-based (0 when the file as a whole is
 * wrong). A truncated file (last line without its newline) is not an error
 * where a partial result makes sense: the cut line is dropped.
 */
export class ProcParseError extends Error {
  /** Always `'ERR_PAGEWISE_PROC_PARSE'`. */
  readonly code = 'ERR_PAGEWISE_PROC_PARSE';
  /** The format being parsed, e.g. `'smaps'`. */
  readonly file: string;
  /** 1-based line number of the offending line, 0 for the whole input. */
  readonly line: number;
  constructor(file: string, line: number, reason: string) {
    super(`Cannot parse ${file}${line ? ` line ${line}` : ''}: ${reason}`);
    this.name = 'ProcParseError';
    this.file = file;
    this.line = line;
  }
}

/** @internal Validates the argument and splits into lines, dropping an unterminated (truncated) last line when `dropCut`. */
export function linesOf(file: string, text: unknown, dropCut = true): { lines: string[]; truncated: boolean } {
  const s = checkString('text', text);
  if (s.trim() === '') throw new ProcParseError(file, 0, 'the input is empty');
  const lines = s.split('\n');
  let truncated = false;
  if (lines[lines.length - 1] === '') lines.pop();
  else if (dropCut && lines.length > 1) {
    lines.pop();
    truncated = true;
  }
  return { lines, truncated };
}

/** @internal Parses "N kB", "N" (a count) into a number of bytes or a plain number. */
export function numberWithUnit(value: string): number | null {
  const m = /^\s*(\d+)(?:\s+([kKmMgG]B))?\s*$/.exec(value);
  if (!m) return null;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n)) return null;
  switch (m[2]?.toLowerCase()) {
    case undefined: return n;
    case 'kb': return n * 1024;
    case 'mb': return n * 1024 * 1024;
    default: return n * 1024 * 1024 * 1024;
  }
}

/** @internal An unsigned decimal that must be a safe integer. */
export function safeInt(file: string, line: number, name: string, text: string | undefined): number {
  if (text === undefined || !/^-?\d+$/.test(text)) throw new ProcParseError(file, line, `${name} is not an integer (${JSON.stringify(text ?? '')})`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ProcParseError(file, line, `${name} is too large for a number (${text})`);
  return n;
}

/** @internal `/proc/<pid>` path for `'self'` or a pid. */
export function procPath(pid: number | 'self' | undefined, name: string): string {
  if (pid === undefined || pid === 'self') return `/proc/self/${name}`;
  return `/proc/${checkInteger('pid', pid, 1)}/${name}`;
}
