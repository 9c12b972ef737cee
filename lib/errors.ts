/**
 * Every error pagewise throws from TypeScript, one constructor per code, in
 * the shapes Node uses:
 *
 * - bad arguments, before any system call: `TypeError` `ERR_INVALID_ARG_TYPE`,
 *   `RangeError` `ERR_OUT_OF_RANGE`, `TypeError` `ERR_INVALID_ARG_VALUE`,
 *   `TypeError` `ERR_INVALID_THIS` (a method on the wrong receiver);
 * - use of an object in a state that forbids it (an unmapped Mapping, a
 *   closed Arena, a detached buffer): `TypeError` `ERR_INVALID_STATE`;
 * - what this kernel, C library or runtime lacks:
 *   `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`;
 * - a failed or refused system call: `code` (the errno name), `errno`
 *   (negative, as Node reports it), `syscall`, and `path` where a file was
 *   named; the native layer builds the same shape (native/errors.cc);
 * - pagewise's own refusals and loading failures: `ERR_PAGEWISE_*`.
 *
 * Built only on built-ins captured at load, so that code which replaced
 * `Object.defineProperty` or an error constructor cannot change what is
 * thrown (the arena's checks rely on it).
 * @internal
 */
import { inspect } from 'node:util';
import { constants as osConstants } from 'node:os';

const defineProperty = Object.defineProperty;
const ErrorOf = Error;
const TypeErrorOf = TypeError;
const RangeErrorOf = RangeError;
const errnoOf = osConstants.errno as Readonly<Record<string, number | undefined>>;

function set<E extends Error>(err: E, key: string, value: unknown): E {
  defineProperty(err, key, { value, enumerable: true, writable: true, configurable: true });
  return err;
}

/** `err` with `code` set as Node sets it (an own, enumerable property). */
export function withCode<E extends Error>(err: E, code: string): E {
  return set(err, 'code', code);
}

/** How a value is named in a message: its type and a short rendering, never a buffer's bytes. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${(value as { name?: string }).name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor;
    return ctor && ctor.name ? `an instance of ${ctor.name}` : inspect(value, { depth: 0 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

/** `ERR_INVALID_ARG_TYPE`: `name` must be `expected`. */
export function invalidType(name: string, expected: string, value: unknown): TypeError {
  return withCode(new TypeErrorOf(`The "${name}" argument must be ${expected}. Received ${describeValue(value)}`), 'ERR_INVALID_ARG_TYPE');
}

/** `ERR_OUT_OF_RANGE`: `name` must be within `range`. */
export function outOfRange(name: string, range: string, value: unknown): RangeError {
  const shown = typeof value === 'number' || typeof value === 'bigint' ? String(value) + (typeof value === 'bigint' ? 'n' : '') : describeValue(value);
  return withCode(new RangeErrorOf(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE');
}

/** `ERR_INVALID_ARG_VALUE`: `name` has the right type but a value it cannot take (`reason`). */
export function invalidValue(name: string, reason: string, value: unknown): TypeError {
  // A view or buffer is named by its type and length, never by its bytes (which may be secret, and many).
  const shown = ArrayBuffer.isView(value) ? `${value.constructor.name}(${value.byteLength} bytes)` : value instanceof ArrayBuffer ? `ArrayBuffer(${value.byteLength} bytes)` : inspect(value, { depth: 0 });
  return withCode(new TypeErrorOf(`The argument "${name}" ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE');
}

/** `ERR_INVALID_THIS`: a method called on something that is not a `type`. */
export function invalidThis(type: string): TypeError {
  return withCode(new TypeErrorOf(`Value of "this" must be of type ${type}`), 'ERR_INVALID_THIS');
}

/** `ERR_INVALID_STATE`: the object's state forbids the call (unmapped, closed, detached, shared). */
export function invalidState(message: string): TypeError {
  return withCode(new TypeErrorOf(message), 'ERR_INVALID_STATE');
}

/** `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`: this kernel, C library or runtime lacks what the call needs. */
export function featureUnavailable(message: string): Error {
  return withCode(new ErrorOf(message), 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM');
}

/** The codes of pagewise's own refusals and loading failures. */
export type PagewiseCode =
  | 'ERR_PAGEWISE_BUFFER_POOL'
  | 'ERR_PAGEWISE_FILE_MAPPING'
  | 'ERR_PAGEWISE_SHARED_MAPPING'
  | 'ERR_PAGEWISE_FOREIGN_RANGE'
  | 'ERR_PAGEWISE_PEER_MISSING'
  | 'ERR_PAGEWISE_PERMISSION'
  | 'ERR_PAGEWISE_MUSL'
  | 'ERR_PAGEWISE_NO_BINARY'
  | 'ERR_PAGEWISE_NO_LAB_BINARY'
  | 'ERR_PAGEWISE_EXTERNAL_BUFFER';

/** An `Error` with one of pagewise's own codes. */
export function pagewiseError<C extends PagewiseCode>(code: C, message: string, cause?: unknown): Error & { code: C } {
  const e = cause === undefined ? new ErrorOf(message) : new ErrorOf(message, { cause });
  return withCode(e, code) as Error & { code: C };
}

/** What a system error may name besides its code and system call. */
export interface SystemErrorDetail {
  /** The file the call was about. */
  path?: string;
  cause?: unknown;
}

/**
 * A system error as Node and the native layer shape it: `code` (the errno
 * name), `errno` (negative, as Node reports it; absent for a name this
 * platform does not know), `syscall` (absent when `null`: a failure that no
 * one call made, such as an arena that cannot place a block) and, when
 * given, `path`. `message` is used as given.
 */
export function systemError(code: string, syscall: string | null, message: string, detail: SystemErrorDetail = {}): NodeJS.ErrnoException {
  const e = (detail.cause === undefined ? new ErrorOf(message) : new ErrorOf(message, { cause: detail.cause })) as NodeJS.ErrnoException;
  set(e, 'code', code);
  const n = errnoOf[code];
  if (n !== undefined) set(e, 'errno', -n);
  if (syscall !== null) set(e, 'syscall', syscall);
  if (detail.path !== undefined) set(e, 'path', detail.path);
  return e;
}

/** A system error whose message starts "CODE: " (the shape of the errors pagewise makes without a failed call to quote). */
export function systemErrorOf(code: string, syscall: string, message: string): NodeJS.ErrnoException {
  return systemError(code, syscall, `${code}: ${message}`);
}

/**
 * `ESRCH`: no process `pid` (it exited, never was, or is in another pid
 * namespace), with what was read when that was found (`detail`) and, where a
 * file was read, its path.
 */
export function noSuchProcess(pid: number | 'self', detail: string, syscall: string, path?: string): NodeJS.ErrnoException {
  return systemError('ESRCH', syscall, `ESRCH: no process ${pid} (${detail})`, { path });
}

/** Whether `err` is an error with `code` (one of `codes`). */
export function hasCode(err: unknown, ...codes: string[]): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && codes.includes(code);
}
