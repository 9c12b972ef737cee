/**
 * Readable names for protections and advice, mapped to the platform's
 * numbers (read from the kernel headers the addon was built with).
 */
import { native } from '../native/binding';
import { invalidValue, invalidType } from '../errors';
import { adviceKnown } from '../kernel/features';

const C = native.constants;

/** A protection: any of `r`, `w`, `x` in that order, or `'none'`. */
export type Prot = 'none' | 'r' | 'w' | 'x' | 'rw' | 'rx' | 'wx' | 'rwx';

const PROTS: Record<Prot, number> = {
  none: C.PROT_NONE,
  r: C.PROT_READ,
  w: C.PROT_WRITE,
  x: C.PROT_EXEC,
  rw: C.PROT_READ | C.PROT_WRITE,
  rx: C.PROT_READ | C.PROT_EXEC,
  wx: C.PROT_WRITE | C.PROT_EXEC,
  rwx: C.PROT_READ | C.PROT_WRITE | C.PROT_EXEC,
};

/**
 * @internal A frozen table with no prototype: a lookup in it cannot be
 * changed by code that patches `Map.prototype`, `Object.prototype` or
 * `String.prototype` after load ('constructor' or '__proto__' find nothing).
 * What reaches the kernel and what the protection model records both come
 * from these tables (DESIGN.md, Safety).
 */
function table<T>(entries: Iterable<readonly [string, T]>): Readonly<Record<string, T | undefined>> {
  const t: Record<string, T> = Object.create(null) as Record<string, T>;
  for (const [k, v] of entries) t[k] = v;
  return Object.freeze(t);
}

const PROT_TABLE = table(Object.entries(PROTS));
const PROT_WRITE_BIT = C.PROT_WRITE;

/** @internal Protection bits of a name, or undefined (never coerces; own names only). */
export function protByName(value: unknown): number | undefined {
  return typeof value === 'string' ? PROT_TABLE[value] : undefined;
}

/** @internal */
export function protBits(name: string, value: unknown): number {
  if (typeof value !== 'string') throw invalidType(name, "a protection string ('none', 'r', 'rw', 'rx', 'rwx', ...)", value);
  const bits = PROT_TABLE[value];
  if (bits === undefined) throw invalidValue(name, `must be one of ${Object.keys(PROTS).map((p) => `'${p}'`).join(', ')}`, value);
  return bits;
}

/** @internal Whether a protection (by name, as recorded by the model) lets JS write. */
export function isWritable(prot: Prot): boolean {
  const bits = PROT_TABLE[prot];
  return bits !== undefined && (bits & PROT_WRITE_BIT) !== 0;
}

/** Every `madvise` advice pagewise knows, by its readable name. */
export type Advice =
  | 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'free' | 'remove'
  | 'dontfork' | 'dofork' | 'mergeable' | 'unmergeable' | 'hugepage' | 'nohugepage'
  | 'dontdump' | 'dodump' | 'wipeonfork' | 'keeponfork' | 'cold' | 'pageout'
  | 'populate_read' | 'populate_write' | 'collapse';

const ADVICE_NAMES: readonly Advice[] = [
  'normal', 'random', 'sequential', 'willneed', 'dontneed', 'free', 'remove',
  'dontfork', 'dofork', 'mergeable', 'unmergeable', 'hugepage', 'nohugepage',
  'dontdump', 'dodump', 'wipeonfork', 'keeponfork', 'cold', 'pageout',
  'populate_read', 'populate_write', 'collapse',
];

/** Advice name to the platform's `MADV_*` number. */
export const ADVICE: Readonly<Record<Advice, number>> = Object.freeze(
  Object.fromEntries(ADVICE_NAMES.map((n) => [n, C[`MADV_${n.toUpperCase()}` as keyof typeof C]])) as Record<Advice, number>,
);

const ADVICE_TABLE = table(Object.entries(ADVICE).filter(([, v]) => typeof v === 'number'));

/** @internal Advice number of a name the headers define, or undefined (never coerces). */
export function adviceByName(value: unknown): number | undefined {
  return typeof value === 'string' ? ADVICE_TABLE[value] : undefined;
}

/** All advice names, in the kernel's order. */
export const adviceNames: readonly Advice[] = Object.freeze([...ADVICE_NAMES]);

/** @internal */
export function adviceNumber(value: unknown): number {
  if (typeof value !== 'string') throw invalidType('advice', "an advice name such as 'dontneed'", value);
  const n = ADVICE_TABLE[value];
  if (n === undefined) throw invalidValue('advice', `must be one of ${ADVICE_NAMES.join(', ')}`, value);
  return n;
}


/**
 * Whether the running kernel knows an advice: probes `madvise(NULL, 0,
 * advice)`, which returns 0 for a known advice and EINVAL for an unknown one.
 */
export function adviceSupported(advice: Advice): boolean {
  return adviceKnown(adviceNumber(advice));
}

/** The platform's constants (`PROT_*`, `MAP_*`, `MADV_*`, `MS_*`, `RUSAGE_*`, `RLIMIT_*`). */
export const constants: Readonly<Record<string, number>> = Object.freeze({ ...C });
