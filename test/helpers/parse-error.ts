/** The error a /proc parser throws for text it cannot parse, checked field by field. */
import { expect } from 'vitest';
import { ProcParseError } from '../../lib/kernel/parse';

/** Runs `fn`, expects a {@link ProcParseError} about `file` with its code, and returns it. */
export function expectParseError(fn: () => unknown, file: string): ProcParseError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProcParseError);
  const e = caught as ProcParseError;
  expect(e.code).toBe('ERR_PAGEWISE_PROC_PARSE');
  expect(e.file).toBe(file);
  return e;
}
