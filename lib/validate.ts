/**
 * Argument validation with exact messages, run before any system call; the
 * errors are lib/errors.ts's (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`,
 * `ERR_INVALID_ARG_VALUE`), the same codes Node uses. Nothing is coerced.
 * @internal
 */
import { invalidType, invalidValue, outOfRange } from './errors';

/** An integer in [min, max] (max at most 2^53 - 1). Never coerces. */
export function checkInteger(name: string, value: unknown, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  }
  return value;
}

/** A non-negative multiple of `page`. */
export function checkAligned(name: string, value: unknown, page: number, max: number = Number.MAX_SAFE_INTEGER): number {
  const v = checkInteger(name, value, 0, max);
  if (v % page !== 0) throw outOfRange(name, `a multiple of the page size (${page})`, value);
  return v;
}

export function checkBigAddress(name: string, value: unknown): bigint {
  if (typeof value !== 'bigint') throw invalidType(name, 'of type bigint', value);
  if (value < 0n || value >= 1n << 64n) throw outOfRange(name, '>= 0n and < 2n ** 64n', value);
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidType(name, 'of type boolean', value);
  return value;
}

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value);
  return value;
}

export function checkObject<T extends object>(name: string, value: unknown): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidType(name, 'of type object', value);
  return value as T;
}

// Typed-array geometry through the %TypedArray%.prototype getters captured
// at load (DESIGN.md, Safety): a Proxy or an object with its own `length`
// cannot pass for a Float64Array.
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const callGetter = Function.prototype.call.bind(Function.prototype.call) as (fn: unknown, self: unknown) => unknown;
const tagGetter = Object.getOwnPropertyDescriptor(typedArrayProto, Symbol.toStringTag)!.get;
const lengthGetter = Object.getOwnPropertyDescriptor(typedArrayProto, 'length')!.get;

/** True only for a real Float64Array (never calls user code). */
export function isFloat64Array(value: unknown): value is Float64Array {
  return typeof value === 'object' && value !== null && callGetter(tagGetter, value) === 'Float64Array';
}

/** A Float64Array of at least `minLength` elements, for results written in place. */
export function checkFloat64Out(name: string, value: unknown, minLength: number): Float64Array {
  if (!isFloat64Array(value)) throw invalidType(name, 'an instance of Float64Array', value);
  const n = callGetter(lengthGetter, value) as number;
  if (n < minLength) throw outOfRange(`${name}.length`, `>= ${minLength}`, n);
  return value;
}

/** An options object or undefined; unknown keys are refused (typos are bugs). */
export function checkOptions<T extends object>(name: string, value: unknown, allowed: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  const o = checkObject<Partial<T>>(name, value);
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) {
      throw invalidValue(name, `has an unknown option "${key}" (known: ${allowed.join(', ')})`, value);
    }
  }
  return o;
}

/**
 * Resolves (offset, length) inside a range of `size` bytes: offset defaults
 * to 0 and must be page-aligned, length defaults to the rest and the range
 * must not pass the end.
 */
export function checkRange(size: number, page: number, offset: unknown, length: unknown, alignOffset = true): [number, number] {
  const off = offset === undefined ? 0 : alignOffset ? checkAligned('offset', offset, page) : checkInteger('offset', offset, 0);
  if (off > size) throw outOfRange('offset', `<= the mapping's length (${size})`, off);
  const len = length === undefined ? size - off : checkInteger('length', length, 0);
  if (len > size - off) throw outOfRange('length', `<= ${size - off} (the mapping's length minus offset ${off})`, len);
  return [off, len];
}
