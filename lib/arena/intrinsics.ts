/**
 * Built-ins the arena's safety depends on, captured when this module loads
 * (Node's "primordials" style). Whatever user code later replaces or patches
 * (`Math.floor`, `Number.isInteger`, `Uint8Array`, the typed-array getters
 * `buffer`/`byteOffset`/`byteLength`, `Array.prototype.push`/`pop`,
 * `Function.prototype.call`), the arena computes the offsets it passes to the
 * kernel with these originals.
 *
 * Typed-array geometry is read through the `%TypedArray%.prototype` getters
 * themselves, so an own `byteOffset` property or a patched prototype getter
 * on a view cannot lie to the arena. The `Symbol.toStringTag` getter is the
 * brand check: it answers `'Uint8Array'` only for a real Uint8Array (or
 * Buffer), never for a Proxy or an object that claims to be one.
 * @internal
 */

const uncurryThis = Function.prototype.bind.bind(Function.prototype.call) as <A extends unknown[], R>(
  fn: (...args: A) => R,
) => (self: unknown, ...args: A) => R;

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

function getter(name: string | symbol): (self: unknown) => unknown {
  const d = Object.getOwnPropertyDescriptor(TypedArrayPrototype, name);
  if (!d || typeof d.get !== 'function') throw new Error(`pagewise: %TypedArray%.prototype has no ${String(name)} getter`);
  return uncurryThis(d.get as () => unknown);
}

/** `view.byteOffset`, read through the original getter. */
export const byteOffsetOf = getter('byteOffset') as (view: Uint8Array) => number;
/** `view.byteLength`, read through the original getter (0 once detached). */
export const byteLengthOf = getter('byteLength') as (view: Uint8Array) => number;
/** `view.buffer`, read through the original getter. */
export const bufferOf = getter('buffer') as (view: Uint8Array) => ArrayBufferLike;
/** `buffer.byteLength` of an ArrayBuffer, read through the original getter (0 once detached). */
export const abByteLengthOf = uncurryThis(Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get as () => number) as (buf: ArrayBufferLike) => number;
const toStringTagOf = getter(Symbol.toStringTag) as (value: unknown) => string | undefined;

/** True only for a real Uint8Array (Buffer included); never throws, never calls user code. */
export function isUint8Array(value: unknown): value is Uint8Array {
  return typeof value === 'object' && value !== null && toStringTagOf(value) === 'Uint8Array';
}

type AnyTyped = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;
/** `%TypedArray%.prototype.fill`, uncurried (any typed array). */
export const fillOf = uncurryThis(Uint8Array.prototype.fill) as (view: AnyTyped, value: number, start?: number, end?: number) => AnyTyped;
/** `%TypedArray%.prototype.set`, uncurried (any typed array). */
export const setOf = uncurryThis(Uint8Array.prototype.set) as (view: AnyTyped, source: ArrayLike<number>, offset?: number) => void;
/** `%TypedArray%.prototype.subarray`, uncurried. */
export const subarrayOf = uncurryThis(Uint8Array.prototype.subarray) as (view: Uint8Array, begin?: number, end?: number) => Uint8Array;

/** The original constructors. */
export const U8 = Uint8Array;
export const U32 = Uint32Array;
export const I32 = Int32Array;
export const U16 = Uint16Array;
export const F64 = Float64Array;

export const { floor, ceil, max, min, clz32, log2 } = Math;
export const isInteger = Number.isInteger;
export const isSafeInteger = Number.isSafeInteger;
export const BigIntOf = BigInt;
export const NumberOf = Number;
export const setPrototypeOf = Object.setPrototypeOf;
export const ObjectFreeze = Object.freeze;

/**
 * A table indexed by small integers whose holes never reach
 * `Array.prototype` (a getter or setter installed there for an index would
 * otherwise be called for a hole). Use `t[i]` and `t[t.length] = x` only:
 * it has no methods.
 */
export function table<T>(): T[] {
  const t: T[] = [];
  setPrototypeOf(t, null);
  return t;
}
