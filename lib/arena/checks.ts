/**
 * Argument checks of the arena, built only on built-ins captured at load
 * (intrinsics.ts), with the error shapes of lib/validate.ts: a wrong type is
 * a TypeError with `code: 'ERR_INVALID_ARG_TYPE'`, a number out of range a
 * RangeError with `code: 'ERR_OUT_OF_RANGE'`, an Arena method called on
 * something that is not an Arena a TypeError with `code: 'ERR_INVALID_THIS'`.
 * Nothing is coerced: a bigint, a symbol or an object with `valueOf` is
 * refused without calling any of its methods. Each option is read once, so a
 * getter cannot answer one value to the check and another to the use.
 * @internal
 */
import { invalidType, invalidValue, outOfRange, invalidThis } from '../errors';
import { isInteger, table } from './intrinsics';

const ObjectKeys = Object.keys;
const ArrayIsArray = Array.isArray;

/** An integer in [lo, hi]. */
export function checkArenaInteger(name: string, value: unknown, lo: number, hi: number): number {
  if (typeof value !== 'number') throw invalidType(name, 'of type number', value);
  if (!isInteger(value) || value < lo || value > hi) throw outOfRange(name, `an integer >= ${lo} and <= ${hi}`, value);
  return value;
}

export function checkArenaBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidType(name, 'of type boolean', value);
  return value;
}

/** Node's shape for a method called on the wrong receiver (`ERR_INVALID_THIS`). */
export function notArena(): TypeError {
  return invalidThis('Arena');
}

/**
 * An options object or undefined, read once: returns a prototype-less record
 * holding each allowed key's value as read (undefined when absent). Unknown
 * own keys are refused (typos are bugs).
 */
export function readOptions(name: string, value: unknown, allowed: readonly string[]): Record<string, unknown> {
  const out = table<unknown>() as unknown as Record<string, unknown>;
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || ArrayIsArray(value)) throw invalidType(name, 'of type object', value);
  const keys = ObjectKeys(value);
  for (let i = 0; i < keys.length; i++) {
    let known = false;
    for (let j = 0; j < allowed.length; j++) if (allowed[j] === keys[i]) known = true;
    if (!known) throw invalidValue(name, `has an unknown option "${keys[i]}" (known: ${allowed.join(', ')})`, value);
  }
  for (let j = 0; j < allowed.length; j++) out[allowed[j]!] = (value as Record<string, unknown>)[allowed[j]!];
  return out;
}
