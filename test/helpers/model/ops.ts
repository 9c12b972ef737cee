/** The modelled objects, the hostile argument values, and the operations with their fast-check arbitrary. */
import fc from 'fast-check';
import { Arena, LARGE_BLOCK_BYTES, Mapping, adviceNames, mmap, pageSize, type Advice, type Prot } from '../../../lib/index';

const page = pageSize();

// ---------------------------------------------------------------- the model

export const MAX_PAGES = 24;

export type Kind = 'anon' | 'anonShared' | 'filePrivate' | 'fileShared';

export interface ModelMapping {
  id: number;
  m: Mapping;
  kind: Kind;
  pages: number;
  /** Protection per page; null when a failed call may have changed it. */
  prot: (Prot | null)[];
  /** Byte value that unwritten memory reads as (0, or the file's fill byte), per page; null = unknown. */
  base: (number | null)[];
  /** Bytes written through views, by offset. */
  written: Map<number, number>;
  /** Residency per page: true, false, or null (not exact). */
  resident: (boolean | null)[];
  locked: boolean[];
  fd: number;
  file: string | null;
  mapped: boolean;
}

export interface ModelView {
  u8: Uint8Array;
  owner: ModelMapping;
  off: number;
  len: number;
  live: boolean;
}

export const PROTS: Prot[] = ['none', 'r', 'w', 'x', 'rw', 'rx', 'wx', 'rwx'];
export const writable = (p: Prot | null): boolean => p !== null && p.includes('w');
export const accessible = (p: Prot | null): boolean => p !== null && p !== 'none';

/** Hostile values for numeric arguments. */
export const HOSTILE_NUMBERS: readonly unknown[] = [
  NaN, Infinity, -Infinity, -1, -page, 1.5, page + 0.5, 2 ** 53, 2 ** 53 + 2, 2 ** 64, Number.MAX_VALUE, -(2 ** 53),
  1n, BigInt(page), 2n ** 64n, String(page), '0', '', null, true, [], [page], {}, { valueOf: () => page }, { [Symbol.toPrimitive]: () => 0 },
  Symbol('n'), () => page, new ArrayBuffer(8), new Uint8Array(4), new Date(0),
];
/** Hostile values for protection and advice names. */
export const HOSTILE_NAMES: readonly unknown[] = [
  'RW', 'wr', 'rw ', ' r', '', 'DONTNEED', 'hwpoison', 'soft_offline', 'guard_install', 'dontneed\0', 'constructor', 'toString',
  '__proto__', 'hasOwnProperty', 4, 0, null, undefined, {}, { toString: () => 'rw' }, Symbol('p'), ['rw'],
];
/** Hostile options objects. */
export const HOSTILE_OPTIONS: readonly unknown[] = [
  null, 1, 'rw', [], { onFault: 1 }, { async: 'yes' }, { typo: true }, { prot: 'rw', extra: 1 }, { file: { fd: -1 } },
  { file: { fd: 0, offset: 1 } }, { file: 3 }, { address: 1 }, { address: -1n }, { address: 2n ** 64n }, { hugePageSize: 3 },
  { hugePages: true, noReserve: true }, { name: 'x[y]' }, { name: 'a'.repeat(80) }, { name: 5 }, { shared: 1 }, { populate: 'no' },
];

/** A detached ArrayBuffer and a mapping that is already unmapped, made fresh for each use. */
export function staleThings(): unknown[] {
  const detached = new ArrayBuffer(8);
  structuredClone(detached, { transfer: [detached] });
  const gone = mmap(page);
  gone.unmap();
  return [detached, gone, Object.create(Mapping.prototype) as unknown, { address: 0n, length: page }];
}

export type Op =
  | { t: 'mmap'; kind: Kind; pages: number; prot: Prot; populate: boolean; noReserve: boolean }
  | { t: 'unmap'; i: number }
  | { t: 'drop'; i: number }
  | { t: 'view'; i: number; a: number; b: number }
  | { t: 'buffer'; i: number }
  | { t: 'write'; v: number; pos: number; byte: number }
  | { t: 'advise'; i: number; advice: Advice; p0: number; n: number }
  | { t: 'protect'; i: number; prot: Prot; p0: number; n: number }
  | { t: 'resident'; i: number; p0: number; n: number; vector: boolean }
  | { t: 'lock'; i: number; onFault: boolean; p0: number; n: number }
  | { t: 'unlock'; i: number; p0: number; n: number }
  | { t: 'sync'; i: number; async: boolean; invalidate: boolean }
  | { t: 'name'; i: number; label: string | null }
  | { t: 'hostile'; method: string; i: number; arg: number; value: number }
  | { t: 'stale'; method: string; which: number }
  | { t: 'arenaNew'; chunks: number; chunkPages: number; purge: boolean }
  | { t: 'arenaAlloc'; a: number; size: number; how: 0 | 1 | 2; byte: number }
  | { t: 'arenaFree'; b: number }
  | { t: 'arenaBadFree'; a: number; b: number; kind: number }
  | { t: 'arenaReset'; a: number; decommit: boolean }
  | { t: 'arenaPurge'; a: number }
  | { t: 'arenaPrefault'; a: number; bytes: number }
  | { t: 'arenaStats'; a: number }
  | { t: 'arenaClose'; a: number }
  | { t: 'arenaHostile'; a: number; value: number; ctor: boolean }
  | { t: 'measure'; i: number; what: number; hostile: number }
  | { t: 'transfer'; v: number }
  | { t: 'escapedWrite'; e: number; pos: number; byte: number }
  | { t: 'check' };

export const METHODS = ['view', 'advise', 'protect', 'residentPages', 'residencyVector', 'lock', 'unlock', 'sync', 'name', 'mmap', 'functional'] as const;

/** The fast-check arbitrary of one operation. */
export function opArb(): fc.Arbitrary<Op> {
  const i = fc.nat(7);
  const p0 = fc.nat(MAX_PAGES);
  const n = fc.nat(MAX_PAGES);
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('mmap' as const), kind: fc.constantFrom<Kind>('anon', 'anon', 'anon', 'anonShared', 'filePrivate', 'fileShared'), pages: fc.integer({ min: 1, max: MAX_PAGES }), prot: fc.constantFrom<Prot>('rw', 'rw', 'rw', ...PROTS), populate: fc.boolean(), noReserve: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('unmap' as const), i }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), i }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('view' as const), i, a: fc.nat(MAX_PAGES * page), b: fc.nat(MAX_PAGES * page) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('buffer' as const), i }) },
    { weight: 6, arbitrary: fc.record({ t: fc.constant('write' as const), v: fc.nat(15), pos: fc.nat(MAX_PAGES * page), byte: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 5, arbitrary: fc.record({ t: fc.constant('advise' as const), i, advice: fc.constantFrom(...adviceNames), p0, n }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('protect' as const), i, prot: fc.constantFrom(...PROTS), p0, n }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('resident' as const), i, p0, n, vector: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('lock' as const), i, onFault: fc.boolean(), p0, n }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('unlock' as const), i, p0, n }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('sync' as const), i, async: fc.boolean(), invalidate: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('name' as const), i, label: fc.option(fc.constantFrom('pw-a', 'pw-b', 'x'), { nil: null }) }) },
    { weight: 5, arbitrary: fc.record({ t: fc.constant('hostile' as const), method: fc.constantFrom(...METHODS), i, arg: fc.nat(2), value: fc.nat(63) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('stale' as const), method: fc.constantFrom(...METHODS), which: fc.nat(3) }) },
    { weight: 2, arbitrary: fc.constant({ t: 'check' as const }) },
    // ArrayBuffer.prototype.transfer() moves a view's memory out of pagewise's reach (issue 11).
    { weight: 2, arbitrary: fc.record({ t: fc.constant('transfer' as const), v: fc.nat(15) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('escapedWrite' as const), e: fc.nat(7), pos: fc.nat(MAX_PAGES * page), byte: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('arenaNew' as const), chunks: fc.integer({ min: 1, max: 16 }), chunkPages: fc.integer({ min: 1, max: 128 }), purge: fc.boolean() }) },
    {
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant('arenaAlloc' as const), a: fc.nat(3),
        size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 16 * 1024 }), fc.integer({ min: 1, max: 2 * LARGE_BLOCK_BYTES })),
        how: fc.constantFrom<0 | 1 | 2>(0, 1, 2), byte: fc.integer({ min: 1, max: 255 }),
      }),
    },
    { weight: 5, arbitrary: fc.record({ t: fc.constant('arenaFree' as const), b: fc.nat(63) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('arenaBadFree' as const), a: fc.nat(3), b: fc.nat(63), kind: fc.nat(7) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('arenaReset' as const), a: fc.nat(3), decommit: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('arenaPurge' as const), a: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('arenaPrefault' as const), a: fc.nat(3), bytes: fc.nat(64 * page) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('arenaStats' as const), a: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('arenaClose' as const), a: fc.nat(3) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('arenaHostile' as const), a: fc.nat(3), value: fc.nat(63), ctor: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('measure' as const), i: fc.nat(7), what: fc.nat(2), hostile: fc.nat(63) }) },
  );
}

export interface ModelArena {
  arena: Arena;
  reserve: number;
  closed: boolean;
}

export interface ModelBlock {
  view: Uint8Array;
  owner: ModelArena;
  size: number;
  byte: number;
  /** 'live', 'freed' (small/medium may still read), or 'dead' (must read as length 0). */
  state: 'live' | 'freed' | 'dead';
}
