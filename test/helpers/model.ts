/**
 * A model of what should exist, for the property-based reliability tests and
 * the soak run: random sequences of safe API calls (valid and hostile
 * arguments) are applied to the real kernel and to this model, and after
 * every step the two must agree: /proc/self/maps holds every live mapping with
 * the modelled protection per page, mincore residency matches where the model
 * knows it exactly, every view has the modelled length (0 once detached), and
 * every byte written reads back unless a call that may discard it was made.
 * Every error must be a TypeError, a RangeError, or a system error with
 * `code`, `errno` and `syscall`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  Arena, LARGE_BLOCK_BYTES, Mapping, adviceNames, faults, mmap, munmap, madvise, mprotect, mincore, pageSize, residency, rss,
  type Advice, type Prot,
} from '../../lib/index';

const page = pageSize();

/** Counters reported by the tests and the soak run. */
export interface Tally {
  operations: number;
  hostile: number;
  validationErrors: number;
  systemErrors: number;
  stateErrors: number;
  mappingsCreated: number;
  viewsChecked: number;
  bytesVerified: number;
  residencyChecks: number;
  mapsChecks: number;
  bytesLost: number;
  crashes: number;
}

export function newTally(): Tally {
  return {
    operations: 0, hostile: 0, validationErrors: 0, systemErrors: 0, stateErrors: 0, mappingsCreated: 0,
    viewsChecked: 0, bytesVerified: 0, residencyChecks: 0, mapsChecks: 0, bytesLost: 0, crashes: 0,
  };
}

export function addTally(into: Tally, from: Tally): void {
  for (const k of Object.keys(into) as (keyof Tally)[]) into[k] += from[k];
}

// ---------------------------------------------------------------- errors

/** 'validation' | 'state' | 'system'; throws if the error has none of the allowed shapes. */
export function classify(err: unknown): 'validation' | 'state' | 'system' {
  const e = err as { name?: unknown; code?: unknown; syscall?: unknown; errno?: unknown };
  if ((err instanceof TypeError || err instanceof RangeError) && e.code === 'ERR_INVALID_STATE') return 'state';
  if ((err instanceof TypeError || err instanceof RangeError) && typeof e.code === 'string') return 'validation';
  if (err instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string' && typeof e.errno === 'number') return 'system';
  // The arena's own "reservation full": ENOMEM with errno, no system call failed (documented).
  if (err instanceof Error && e.code === 'ENOMEM' && typeof e.errno === 'number') return 'system';
  // A TypeError without a code comes from the engine itself (a private field
  // read on a forged object): still a TypeError, never a crash.
  if (err instanceof TypeError) return 'validation';
  throw new Error(`unexpected error shape: ${String((err as Error)?.name)} ${String(e.code)} ${String((err as Error)?.message)}`);
}

// ---------------------------------------------------------------- kernel facts

interface MapsEntry {
  start: bigint;
  end: bigint;
  perms: string;
}

export function readMaps(): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4})/.exec(line);
    if (m) out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3]! });
  }
  return out;
}

/**
 * Whether transparent huge pages could make one fault populate more than one
 * base page in a small anonymous mapping without advice (THP 'always', or a
 * multi-size THP set to 'always'): then residency is not exact and is only
 * checked where the model's own advice rules it out.
 */
export function thpMayWiden(): boolean {
  const base = '/sys/kernel/mm/transparent_hugepage';
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const top = read(`${base}/enabled`);
  let sizes: string[] = [];
  try {
    sizes = fs.readdirSync(base).filter((d) => d.startsWith('hugepages-'));
  } catch {
    /* no THP */
  }
  for (const s of sizes) {
    const v = read(`${base}/${s}/enabled`);
    if (v.includes('[always]') || (v.includes('[inherit]') && top.includes('[always]'))) {
      const kb = Number(/hugepages-(\d+)kB/.exec(s)?.[1] ?? 0);
      if (kb * 1024 <= MAX_PAGES * page) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- the model

export const MAX_PAGES = 24;

type Kind = 'anon' | 'anonShared' | 'filePrivate' | 'fileShared';

interface ModelMapping {
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

interface ModelView {
  u8: Uint8Array;
  owner: ModelMapping;
  off: number;
  len: number;
  live: boolean;
}

const PROTS: Prot[] = ['none', 'r', 'w', 'x', 'rw', 'rx', 'wx', 'rwx'];
const writable = (p: Prot | null): boolean => p !== null && p.includes('w');
const accessible = (p: Prot | null): boolean => p !== null && p !== 'none';

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
function staleThings(): unknown[] {
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

const METHODS = ['view', 'advise', 'protect', 'residentPages', 'residencyVector', 'lock', 'unlock', 'sync', 'name', 'mmap', 'functional'] as const;

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

interface ModelArena {
  arena: Arena;
  reserve: number;
  closed: boolean;
}

interface ModelBlock {
  view: Uint8Array;
  owner: ModelArena;
  size: number;
  byte: number;
  /** 'live', 'freed' (small/medium may still read), or 'dead' (must read as length 0). */
  state: 'live' | 'freed' | 'dead';
}

/** Runs a sequence of operations against the kernel and the model. */
export class World {
  readonly arenas: ModelArena[] = [];
  readonly blocks: ModelBlock[] = [];
  readonly tally = newTally();
  readonly maps: ModelMapping[] = [];
  readonly views: ModelView[] = [];
  /** Buffers moved out of pagewise by transfer(): they keep the memory, unmapped or not. */
  readonly escaped: { u8: Uint8Array; owner: ModelMapping; off: number; len: number }[] = [];
  readonly dir: string;
  readonly residencyExact: boolean;
  #nextId = 0;
  #unmappedRanges: { start: bigint; end: bigint }[] = [];

  constructor(dir: string, residencyExact: boolean) {
    this.dir = dir;
    this.residencyExact = residencyExact;
  }

  #live(): ModelMapping[] {
    return this.maps.filter((x) => x.mapped);
  }

  #pick(i: number): ModelMapping | undefined {
    const live = this.#live();
    return live.length ? live[i % live.length] : undefined;
  }

  /** Calls `fn`; returns the error class or null. Unexpected shapes throw. */
  #attempt(fn: () => unknown): 'validation' | 'state' | 'system' | null {
    try {
      fn();
      return null;
    } catch (err) {
      const c = classify(err);
      if (c === 'validation') this.tally.validationErrors++;
      else if (c === 'state') this.tally.stateErrors++;
      else this.tally.systemErrors++;
      return c;
    }
  }

  #range(x: ModelMapping, p0: number, n: number): [number, number] {
    const start = p0 % (x.pages + 1);
    const count = Math.min(n, x.pages - start);
    return [start, count];
  }

  #detach(x: ModelMapping, from: number, to: number): void {
    for (const v of this.views) if (v.owner === x && v.live && v.off < to && from < v.off + v.len) v.live = false;
    // A zero-length view at the edge of the range is detached too when it lies inside it.
    for (const v of this.views) if (v.owner === x && v.live && v.len === 0 && v.off >= from && v.off < to) v.live = false;
  }

  apply(op: Op): void {
    this.tally.operations++;
    switch (op.t) {
      case 'mmap':
        return this.#mmap(op);
      case 'unmap': {
        const x = this.#pick(op.i);
        if (!x) return;
        const expected = this.views.filter((v) => v.owner === x && v.live).length;
        const n = x.m.unmap();
        // Views the model let go of may not be collected yet: at least the ones it holds.
        if (n < expected) throw new Error(`unmap detached ${n} views, the model holds ${expected}`);
        if (x.m.unmap() !== 0) throw new Error('second unmap was not a no-op');
        this.#gone(x);
        return;
      }
      case 'drop': {
        // Dropped without unmap: the finalizer unmaps once nothing refers to it.
        const x = this.#pick(op.i);
        if (!x) return;
        x.mapped = false;
        const idx = this.maps.indexOf(x);
        this.maps.splice(idx, 1);
        for (let k = this.views.length - 1; k >= 0; k--) if (this.views[k]!.owner === x) this.views.splice(k, 1);
        if (x.fd >= 0) fs.closeSync(x.fd); // the mapping keeps the file itself alive
        return;
      }
      case 'view': {
        const x = this.#pick(op.i);
        if (!x) return;
        const len = x.pages * page;
        const off = op.a % (len + 1);
        const vlen = op.b % (len - off + 1);
        const ok = this.#writableBytes(x, off, vlen);
        const r = this.#attempt(() => {
          const u8 = x.m.view(off, vlen);
          this.views.push({ u8, owner: x, off, len: vlen, live: true });
          if (this.views.length > 16) this.views.shift();
        });
        if (vlen === 0 && (r === null || r === 'state')) return;
        if (ok && r !== null) throw new Error(`view(${off}, ${vlen}) over writable memory failed`);
        if (!ok && r !== 'state') throw new Error(`view(${off}, ${vlen}) over unwritable memory gave ${r}`);
        return;
      }
      case 'buffer': {
        const x = this.#pick(op.i);
        if (!x) return;
        const ok = this.#writableBytes(x, 0, x.pages * page);
        const r = this.#attempt(() => {
          const u8 = new Uint8Array(x.m.buffer);
          this.views.push({ u8, owner: x, off: 0, len: x.pages * page, live: true });
          if (this.views.length > 16) this.views.shift();
        });
        if (ok !== (r === null)) throw new Error(`buffer: writable=${ok} but ${r}`);
        return;
      }
      case 'write': {
        if (!this.views.length) return;
        const v = this.views[op.v % this.views.length]!;
        if (!v.live) {
          // A stale view: the write goes nowhere, and must not crash.
          v.u8[op.pos % (v.len + 1)] = op.byte;
          if (v.u8.byteLength !== 0) throw new Error('a detached view has a length');
          return;
        }
        if (v.len === 0) return;
        const at = op.pos % v.len;
        v.u8[at] = op.byte;
        const off = v.off + at;
        v.owner.written.set(off, op.byte);
        // A write makes its page present, whatever the model knew before.
        v.owner.resident[Math.floor(off / page)] = true;
        return;
      }
      case 'transfer': {
        if (!this.views.length || typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function') return;
        const v = this.views[op.v % this.views.length]!;
        if (!v.live || v.len === 0) return;
        const ab = v.u8.buffer as ArrayBuffer & { transfer(): ArrayBuffer };
        const start = v.off - v.u8.byteOffset;
        const t = ab.transfer();
        for (const w of this.views) if (w.u8.buffer === ab) w.live = false;
        this.escaped.push({ u8: new Uint8Array(t), owner: v.owner, off: start, len: t.byteLength });
        if (this.escaped.length > 8) this.escaped.shift();
        return;
      }
      case 'escapedWrite': {
        if (!this.escaped.length) return;
        const e = this.escaped[op.e % this.escaped.length]!;
        if (e.len === 0) return;
        const at = op.pos % e.len;
        // Mapped or not, the write lands in memory that stays valid: never a crash.
        e.u8[at] = op.byte;
        if (e.u8[at] !== op.byte) throw new Error('a transferred buffer lost a write');
        if (e.owner.mapped && this.maps.includes(e.owner)) {
          e.owner.written.set(e.off + at, op.byte);
          e.owner.resident[Math.floor((e.off + at) / page)] = true;
        }
        return;
      }
      case 'advise':
        return this.#advise(op);
      case 'protect': {
        const x = this.#pick(op.i);
        if (!x) return;
        const [s, n] = this.#range(x, op.p0, op.n);
        const r = this.#attempt(() => x.m.protect(op.prot, s * page, n * page));
        // Write access is never taken from memory a transferred buffer holds.
        const held = n > 0 && !writable(op.prot) && this.escaped.some((e) => e.owner === x && e.off < (s + n) * page && s * page < e.off + e.len);
        if (held) {
          if (r !== 'state') throw new Error(`protect(${op.prot}, ${s}, ${n}) over a transferred buffer gave ${r}`);
          return;
        }
        if (r === 'validation' || r === 'state') throw new Error(`protect(${op.prot}, ${s}, ${n}) refused: ${r}`);
        if (!writable(op.prot)) this.#detach(x, s * page, (s + n) * page);
        for (let p = s; p < s + n; p++) x.prot[p] = r === null ? op.prot : writable(op.prot) ? x.prot[p]! : null;
        return;
      }
      case 'resident': {
        const x = this.#pick(op.i);
        if (!x) return;
        const [s, n] = this.#range(x, op.p0, op.n);
        if (op.vector) {
          const vec = x.m.residencyVector(s * page, n * page);
          if (vec.length !== n) throw new Error(`residencyVector length ${vec.length}, expected ${n}`);
          this.#compareResidency(x, s, n, (p) => (vec[p - s]! & 1) === 1);
        } else {
          const count = x.m.residentPages(s * page, n * page);
          const known = x.resident.slice(s, s + n);
          if (this.#residencyKnown(x) && known.every((k) => k !== null)) {
            this.tally.residencyChecks++;
            const want = known.filter(Boolean).length;
            if (count !== want) throw new Error(`residentPages(${s}, ${n}) = ${count}, model ${want} (${x.kind})`);
          }
        }
        return;
      }
      case 'lock': {
        const x = this.#pick(op.i);
        if (!x) return;
        const [s, n] = this.#range(x, op.p0, op.n);
        const r = this.#attempt(() => x.m.lock({ onFault: op.onFault }, s * page, n * page));
        if (r === 'validation' || r === 'state') throw new Error(`lock refused: ${r}`);
        for (let p = s; p < s + n; p++) {
          if (r !== null) x.resident[p] = null;
          else {
            x.locked[p] = true;
            // mlock populates every accessible page (exec-only: depends on the architecture).
            if (!op.onFault && accessible(x.prot[p]!)) x.resident[p] = x.prot[p] === 'x' ? null : true;
            if (!op.onFault && x.prot[p] === null) x.resident[p] = null;
          }
        }
        return;
      }
      case 'unlock': {
        const x = this.#pick(op.i);
        if (!x) return;
        const [s, n] = this.#range(x, op.p0, op.n);
        const r = this.#attempt(() => x.m.unlock(s * page, n * page));
        if (r === 'validation' || r === 'state') throw new Error(`unlock refused: ${r}`);
        if (r === null) for (let p = s; p < s + n; p++) x.locked[p] = false;
        return;
      }
      case 'sync': {
        const x = this.#pick(op.i);
        if (!x) return;
        const r = this.#attempt(() => x.m.sync({ async: op.async, invalidate: op.invalidate }));
        if (r === 'validation' || r === 'state') throw new Error(`sync refused: ${r}`);
        return;
      }
      case 'name': {
        const x = this.#pick(op.i);
        if (!x) return;
        const r = this.#attempt(() => x.m.name(op.label));
        if (r === 'validation' || r === 'state') throw new Error(`name refused: ${r}`);
        return;
      }
      case 'hostile':
        return this.#hostile(op);
      case 'stale':
        return this.#stale(op);
      case 'check':
        return this.check();
      default:
        return this.#arenaOp(op);
    }
  }

  #arena(a: number): ModelArena | undefined {
    const open = this.arenas.filter((x) => !x.closed);
    return open.length ? open[a % open.length] : undefined;
  }

  #arenaOp(op: Op): void {
    switch (op.t) {
      case 'arenaNew': {
        const chunkSize = op.chunkPages * page;
        const arena = new Arena({ reserve: op.chunks * chunkSize, chunkSize, purge: op.purge ? 'free' : 'dontneed', hugePages: false });
        this.arenas.push({ arena, reserve: op.chunks * chunkSize, closed: false });
        if (this.arenas.filter((x) => !x.closed).length > 3) this.#closeArena(this.arenas.find((x) => !x.closed)!);
        return;
      }
      case 'arenaAlloc': {
        const x = this.#arena(op.a);
        if (!x) return;
        let view: Uint8Array | null = null;
        const r = this.#attempt(() => {
          view = op.how === 0 ? x.arena.alloc(op.size) : op.how === 1 ? x.arena.tryAlloc(op.size) : x.arena.allocZeroed(op.size);
        });
        // A block larger than the whole reservation is a RangeError.
        if (r === 'state' || (r === 'validation' && op.size <= x.reserve)) throw new Error(`arena alloc(${op.size}) refused: ${r}`);
        const v = view as Uint8Array | null;
        if (r !== null || v === null) return; // ENOMEM: the reservation is full
        if (v.byteLength !== op.size) throw new Error(`alloc(${op.size}) gave ${v.byteLength} bytes`);
        if (op.how === 2) for (const k of [0, op.size >> 1, op.size - 1]) if (op.size && v[k] !== 0) throw new Error(`allocZeroed byte ${k} is ${v[k]}`);
        v.fill(op.byte);
        this.blocks.push({ view: v, owner: x, size: op.size, byte: op.byte, state: 'live' });
        if (this.blocks.length > 64) this.blocks.shift();
        return;
      }
      case 'arenaFree': {
        const live = this.blocks.filter((b) => b.state === 'live');
        if (!live.length) return;
        const b = live[op.b % live.length]!;
        b.owner.arena.free(b.view);
        b.state = b.size >= LARGE_BLOCK_BYTES ? 'dead' : 'freed';
        return;
      }
      case 'arenaBadFree': {
        this.tally.hostile++;
        const x = this.#arena(op.a);
        const b = this.blocks.length ? this.blocks[op.b % this.blocks.length]! : undefined;
        const target = x ?? b?.owner;
        if (!target) return;
        const other = this.arenas.find((y) => y !== b?.owner && !y.closed);
        const alive = b !== undefined && b.view.byteLength > 0;
        const bad: (() => unknown)[] = [
          () => (b && b.state !== 'live' ? b.view : new Uint8Array(8)), // freed (or dead) view, else a plain one
          () => (alive && b.size > 1 ? b.view.subarray(1) : new Uint8Array(0)),
          () => new Uint8Array(16),
          () => b?.view.buffer,
          () => 42,
          () => null,
          () => ({ byteLength: 8 }),
          () => (alive ? new DataView(b.view.buffer) : 'x'),
        ];
        const arena = op.kind === 2 && other && b ? other.arena : target.arena;
        const value = op.kind === 2 && b && b.state === 'live' ? b.view : bad[op.kind % bad.length]!();
        if (arena === target.arena && value === b?.view && b?.state === 'live' && b.owner.arena === arena) return;
        const before = this.blocks.map((k) => k.view.byteLength).join();
        const r = this.#attempt(() => arena.free(value as Uint8Array));
        if (r === null && b && value === b.view && b.state === 'freed' && b.owner.arena === arena) {
          // The documented ABA case: a stale view of a small or medium block
          // whose slot was handed out again frees the new block. The model
          // no longer knows which of this arena's blocks are live.
          for (const k of this.blocks) if (k.owner === b.owner && k.state === 'live') k.state = 'freed';
          return;
        }
        if (r === null) throw new Error(`free(${op.kind}) of a foreign or stale value succeeded`);
        if (r === 'system') throw new Error('a bad free reached a system call');
        if (this.blocks.map((k) => k.view.byteLength).join() !== before) throw new Error('a refused free changed a block');
        return;
      }
      case 'arenaReset': {
        const x = this.#arena(op.a);
        if (!x) return;
        x.arena.reset({ decommit: op.decommit });
        for (const b of this.blocks) if (b.owner === x) b.state = 'dead';
        return;
      }
      case 'arenaPurge': {
        const x = this.#arena(op.a);
        if (!x) return;
        const n = x.arena.purge();
        if (!Number.isSafeInteger(n) || n < 0 || n % page !== 0) throw new Error(`purge returned ${n}`);
        return;
      }
      case 'arenaPrefault': {
        const x = this.#arena(op.a);
        if (!x) return;
        const r = this.#attempt(() => x.arena.prefault(op.bytes));
        if (r === 'state') throw new Error('prefault on an open arena refused');
        return;
      }
      case 'arenaStats': {
        const x = this.#arena(op.a);
        if (!x) return;
        const st = x.arena.stats();
        const live = this.blocks.filter((b) => b.owner === x && b.state === 'live').reduce((n, b) => n + b.size, 0);
        if (st.allocated < live) throw new Error(`stats().allocated ${st.allocated} < live bytes ${live}`);
        if (st.committed > st.reserved || st.reserved < x.reserve) throw new Error(`stats(): committed ${st.committed}, reserved ${st.reserved}`);
        return;
      }
      case 'arenaClose': {
        const x = this.#arena(op.a);
        if (x) this.#closeArena(x);
        return;
      }
      case 'arenaHostile': {
        this.tally.hostile++;
        const bad = HOSTILE_NUMBERS[op.value % HOSTILE_NUMBERS.length];
        const x = this.#arena(op.a) ?? this.arenas.find((y) => y.closed);
        const before = this.blocks.map((k) => k.view.byteLength).join();
        const r = op.ctor || !x
          ? this.#attempt(() => new Arena(op.value % 2 ? (HOSTILE_OPTIONS[op.value % HOSTILE_OPTIONS.length] as object) : { reserve: bad as number }).close())
          : this.#attempt(() => [() => x.arena.alloc(bad as number), () => x.arena.tryAlloc(page, bad as number), () => x.arena.allocZeroed(bad as number), () => x.arena.prefault(bad as number), () => x.arena.reset(bad as object)][op.value % 5]!());
        if (r === 'system') throw new Error(`hostile arena call with ${String(bad)} reached a system call`);
        // reset(options) takes any object without unknown own keys (a Date is an empty options object).
        const emptyOptions = op.value % 5 === 4 && typeof bad === 'object' && bad !== null && !Array.isArray(bad) && Object.keys(bad).length === 0;
        if (r === null && !x?.closed && !op.ctor && !emptyOptions) throw new Error(`hostile arena call with ${String(bad)} succeeded`);
        if (r === null && emptyOptions && x) for (const b of this.blocks) if (b.owner === x) b.state = 'dead';
        if (r !== null && this.blocks.map((k) => k.view.byteLength).join() !== before) throw new Error('a refused arena call changed a block');
        return;
      }
      case 'measure': {
        const x = this.#pick(op.i);
        const bad = HOSTILE_NUMBERS[op.hostile % HOSTILE_NUMBERS.length];
        if (op.what === 0) {
          const r = rss();
          if (!(r.bytes > 0)) throw new Error('rss() is not positive');
          if (this.#attempt(() => rss(bad as object)) === 'system') throw new Error('rss(hostile) reached a system call');
        } else if (op.what === 1 && x) {
          const r = residency(x.m);
          const count = x.m.residentPages();
          if (x.kind === 'anon' && this.#residencyKnown(x) && r.source === 'mincore' && r.pages !== count) throw new Error('residency() and mincore disagree');
          const e = this.#attempt(() => residency(x.m, bad as number));
          if (e === null || e === 'system') throw new Error(`residency(hostile ${String(bad)}) gave ${e}`);
        } else {
          const f = faults();
          if (!Number.isSafeInteger(f.minor) || f.minor < 0) throw new Error('faults().minor is not a count');
          if (this.#attempt(() => faults(bad as object)) === 'system') throw new Error('faults(hostile) reached a system call');
        }
        return;
      }
      default:
        return;
    }
  }

  #closeArena(x: ModelArena): void {
    x.arena.close();
    x.arena.close(); // idempotent
    x.closed = true;
    for (const b of this.blocks) if (b.owner === x) b.state = 'dead';
    // Every use of a closed arena is a state error.
    const r = this.#attempt(() => x.arena.alloc(16));
    if (r !== 'state') throw new Error(`alloc on a closed arena gave ${r}`);
    this.arenas.splice(this.arenas.indexOf(x), 1);
  }

  #residencyKnown(x: ModelMapping): boolean {
    return this.residencyExact && x.kind === 'anon';
  }

  #compareResidency(x: ModelMapping, s: number, n: number, got: (p: number) => boolean): void {
    if (!this.#residencyKnown(x)) return;
    for (let p = s; p < s + n; p++) {
      const want = x.resident[p];
      if (want === null || want === undefined) continue;
      this.tally.residencyChecks++;
      if (got(p) !== want) throw new Error(`page ${p} of mapping ${x.id}: mincore says ${got(p)}, model ${want}`);
    }
  }

  #writableBytes(x: ModelMapping, off: number, len: number): boolean {
    for (let p = Math.floor(off / page); p < Math.ceil((off + len) / page); p++) if (!writable(x.prot[p]!)) return false;
    return true;
  }

  #mmap(op: Extract<Op, { t: 'mmap' }>): void {
    const len = op.pages * page;
    let fd = -1;
    let file: string | null = null;
    let fill = 0;
    if (op.kind === 'filePrivate' || op.kind === 'fileShared') {
      fill = 0x5a;
      file = path.join(this.dir, `f${this.#nextId}.bin`);
      fs.writeFileSync(file, Buffer.alloc(len, fill));
      fd = fs.openSync(file, 'r+');
    }
    const shared = op.kind === 'anonShared' || op.kind === 'fileShared';
    let m: Mapping;
    try {
      m = mmap(len, { prot: op.prot, populate: op.populate, noReserve: op.noReserve, shared, ...(fd >= 0 ? { file: { fd } } : {}) });
    } catch (err) {
      if (fd >= 0) fs.closeSync(fd);
      if (classify(err) !== 'system') throw err;
      this.tally.systemErrors++;
      return;
    }
    this.tally.mappingsCreated++;
    const x: ModelMapping = {
      id: this.#nextId++, m, kind: op.kind, pages: op.pages, prot: Array(op.pages).fill(op.prot), base: Array(op.pages).fill(fill),
      written: new Map(), resident: Array(op.pages).fill(op.prot === 'x' ? null : op.populate && op.prot !== 'none'), locked: Array(op.pages).fill(false), fd, file, mapped: true,
    };
    this.maps.push(x);
    // Keep the number of live mappings small: the oldest goes.
    if (this.#live().length > 6) {
      const old = this.#live()[0]!;
      old.m.unmap();
      this.#gone(old);
    }
  }

  #gone(x: ModelMapping): void {
    x.mapped = false;
    this.#detach(x, 0, x.pages * page);
    this.#unmappedRanges.push({ start: x.m.address, end: x.m.address + BigInt(x.pages * page) });
    if (x.fd >= 0) fs.closeSync(x.fd);
    x.fd = -1;
    this.maps.splice(this.maps.indexOf(x), 1);
    for (let k = this.views.length - 1; k >= 0; k--) {
      const v = this.views[k]!;
      if (v.owner === x) {
        if (v.u8.byteLength !== 0) throw new Error('a view of an unmapped mapping still has a length');
        this.views.splice(k, 1);
      }
    }
  }

  #advise(op: Extract<Op, { t: 'advise' }>): void {
    const x = this.#pick(op.i);
    if (!x) return;
    const [s, n] = this.#range(x, op.p0, op.n);
    const r = this.#attempt(() => x.m.advise(op.advice, s * page, n * page));
    if (r === 'validation' || r === 'state') throw new Error(`advise(${op.advice}) refused: ${r}`);
    const priv = x.kind === 'anon' || x.kind === 'filePrivate';
    for (let p = s; p < s + n; p++) {
      const drop = (): void => {
        for (let o = p * page; o < (p + 1) * page; o++) x.written.delete(o);
      };
      const unknown = (): void => {
        drop();
        x.base[p] = null;
      };
      switch (op.advice) {
        case 'dontneed':
          if (r === null) {
            if (priv) drop();
            x.resident[p] = false;
          } else if (priv) unknown();
          if (r !== null) x.resident[p] = null;
          break;
        case 'free':
          if (r === null || priv) unknown();
          x.resident[p] = null;
          break;
        case 'remove':
          if (r === null) {
            drop();
            x.base[p] = 0;
          } else if (!priv) unknown();
          x.resident[p] = null;
          break;
        case 'populate_read':
        case 'populate_write':
          x.resident[p] = r === null && x.resident[p] !== null ? true : null;
          break;
        case 'pageout':
        case 'cold':
        case 'collapse':
        case 'hugepage':
        case 'willneed':
          x.resident[p] = null;
          break;
        default:
          break;
      }
    }
  }

  #hostile(op: Extract<Op, { t: 'hostile' }>): void {
    this.tally.hostile++;
    // Names go only where a name is taken (a name pool's 0 or 4 would be a
    // valid length elsewhere); objects go where options or numbers are taken.
    const takesName = ['advise', 'protect', 'name', 'mmap'].includes(op.method);
    const takesOptions = ['lock', 'sync', 'mmap'].includes(op.method);
    const pool = op.arg === 1 && takesName ? HOSTILE_NAMES : op.arg === 2 && takesOptions ? HOSTILE_OPTIONS : HOSTILE_NUMBERS;
    const bad = pool[op.value % pool.length];
    const x = this.#pick(op.i);
    const m = x?.m ?? mmap(page);
    const before = this.#snapshot();
    let r: 'validation' | 'state' | 'system' | null;
    switch (op.method) {
      case 'view':
        r = this.#attempt(() => (op.arg === 2 ? m.view(0, bad as number) : m.view(bad as number)));
        break;
      case 'advise':
        r = this.#attempt(() => (op.arg === 1 ? m.advise(bad as Advice) : op.arg === 2 ? m.advise('normal', 0, bad as number) : m.advise('normal', bad as number, page)));
        break;
      case 'protect':
        r = this.#attempt(() => (op.arg === 1 ? m.protect(bad as Prot) : op.arg === 2 ? m.protect('rw', 0, bad as number) : m.protect('rw', bad as number)));
        break;
      case 'residentPages':
        r = this.#attempt(() => m.residentPages(bad as number));
        break;
      case 'residencyVector':
        r = this.#attempt(() => m.residencyVector(0, bad as number));
        break;
      case 'lock':
        r = this.#attempt(() => (op.arg === 2 ? m.lock(bad as object) : m.lock(undefined, bad as number)));
        break;
      case 'unlock':
        r = this.#attempt(() => m.unlock(bad as number));
        break;
      case 'sync':
        r = this.#attempt(() => (op.arg === 2 ? m.sync(bad as object) : m.sync(undefined, 0, bad as number)));
        break;
      case 'name':
        r = this.#attempt(() => m.name(bad as string));
        break;
      case 'mmap':
        r = this.#attempt(() => {
          const made = op.arg === 2 ? mmap(page, bad as object) : op.arg === 1 ? mmap(page, { prot: bad as Prot }) : mmap(bad as number);
          made.unmap(); // a hostile value that turned out valid (a default): give it back
        });
        break;
      default:
        r = this.#attempt(() => {
          const f = [() => munmap(bad as Mapping), () => madvise(bad as Mapping, 'normal'), () => mprotect(bad as Mapping, 'rw'), () => mincore(bad as Mapping)];
          f[op.value % f.length]!();
        });
        break;
    }
    if (!x) m.unmap();
    // Strings like '' or values like [] can be legitimate defaults only for
    // options; a hostile call either fails validation or, for the few valid
    // spellings in the pools (undefined, a real default), succeeds.
    // A label is a valid name argument: the kernel may refuse it (EINVAL without CONFIG_ANON_VMA_NAME).
    if (r === 'system' && op.method !== 'name') throw new Error(`hostile ${op.method}(${String(bad)}) reached a system call`);
    const after = this.#snapshot();
    if (r !== null && before !== after) throw new Error(`hostile ${op.method} failed but changed the model`);
  }

  #stale(op: Extract<Op, { t: 'stale' }>): void {
    this.tally.hostile++;
    const thing = staleThings()[op.which % 4] as Mapping;
    const calls: Record<string, () => unknown> = {
      view: () => thing.view(),
      advise: () => thing.advise('dontneed'),
      protect: () => thing.protect('rw'),
      residentPages: () => thing.residentPages(),
      residencyVector: () => thing.residencyVector(),
      lock: () => thing.lock(),
      unlock: () => thing.unlock(),
      sync: () => thing.sync(),
      name: () => thing.name('x'),
      mmap: () => mmap(page, { file: { fd: 2 ** 31 - 1 } }),
      functional: () => munmap(thing),
    };
    const r = this.#attempt(calls[op.method] ?? calls.view!);
    if (r === 'system' && op.method !== 'mmap') throw new Error(`stale ${op.method} reached a system call`);
  }

  #snapshot(): string {
    return this.#live()
      .map((x) => `${x.id}:${x.prot.join(',')}:${x.written.size}:${x.resident.join(',')}`)
      .join('|');
  }

  /** Compares the whole model with the kernel. */
  check(): void {
    const maps = readMaps();
    this.tally.mapsChecks++;
    for (const x of this.#live()) {
      const start = x.m.address;
      for (let p = 0; p < x.pages; p++) {
        const a = start + BigInt(p * page);
        const e = maps.find((en) => en.start <= a && a < en.end);
        if (!e) throw new Error(`page ${p} of live mapping ${x.id} at 0x${a.toString(16)} is not in /proc/self/maps`);
        const want = x.prot[p];
        if (want === null || want === undefined) continue;
        const perms = `${want.includes('r') ? 'r' : '-'}${want.includes('w') ? 'w' : '-'}${want.includes('x') ? 'x' : '-'}`;
        if (e.perms.slice(0, 3) !== perms) throw new Error(`page ${p} of mapping ${x.id}: maps says ${e.perms}, model ${want}`);
        const sharing = x.kind === 'anonShared' || x.kind === 'fileShared' ? 's' : 'p';
        if (e.perms[3] !== sharing) throw new Error(`page ${p} of mapping ${x.id}: maps says ${e.perms}, model ${sharing}`);
      }
    }
    // Ranges unmapped since the last check are gone (unless something new
    // was mapped there since, which a live mapping of ours would show).
    for (const u of this.#unmappedRanges) {
      const overlap = maps.find((e) => e.start < u.end && u.start < e.end);
      const reused = this.#live().some((x) => x.m.address < u.end && u.start < x.m.address + BigInt(x.pages * page));
      // An unmapped range may stay as fresh anonymous rw-p zero pages while
      // an ArrayBuffer made over it is still reachable (DESIGN.md, Safety).
      const placeholder = overlap !== undefined && overlap.perms === 'rw-p';
      if (overlap && !reused && !placeholder && overlap.start === u.start && overlap.end === u.end) {
        throw new Error(`unmapped range 0x${u.start.toString(16)}-0x${u.end.toString(16)} is still in /proc/self/maps: ${JSON.stringify(overlap, (k, v) => (typeof v === "bigint" ? v.toString(16) : v))}`);
      }
    }
    this.#unmappedRanges = [];
    for (const b of this.blocks) {
      this.tally.viewsChecked++;
      if (b.state === 'dead') {
        if (b.view.byteLength !== 0) throw new Error(`a ${b.size}-byte block of a reset/closed arena (or a freed large block) has length ${b.view.byteLength}`);
      } else if (b.state === 'live') {
        if (b.view.byteLength !== b.size) throw new Error(`a live ${b.size}-byte block has length ${b.view.byteLength}`);
        for (const k of b.size ? [0, b.size >> 1, b.size - 1] : []) {
          this.tally.bytesVerified++;
          if (b.view[k] !== b.byte) {
            this.tally.bytesLost++;
            throw new Error(`a live ${b.size}-byte block reads ${b.view[k]} at ${k}, filled with ${b.byte}`);
          }
        }
      }
    }
    for (const v of this.views) {
      this.tally.viewsChecked++;
      const want = v.live ? v.len : 0;
      if (v.u8.byteLength !== want) throw new Error(`view of mapping ${v.owner.id} has length ${v.u8.byteLength}, model ${want}`);
    }
    for (const x of this.#live()) {
      if (this.#residencyKnown(x)) {
        const vec = x.m.residencyVector();
        this.#compareResidency(x, 0, x.pages, (p) => (vec[p]! & 1) === 1);
      }
      // Every byte the model knows reads back, through one view per writable run of pages.
      for (let p = 0; p < x.pages; ) {
        if (!writable(x.prot[p]!)) {
          p++;
          continue;
        }
        let q = p;
        while (q < x.pages && writable(x.prot[q]!)) q++;
        const u8 = x.m.view(p * page, (q - p) * page);
        for (let k = p; k < q; k++) {
          const base = x.base[k];
          const at = (k * 7) % page; // one probe byte per page
          const got = u8[(k - p) * page + at]; // the read faults the page in
          x.resident[k] = true;
          if (base !== null && base !== undefined) {
            this.tally.bytesVerified++;
            const want = x.written.get(k * page + at) ?? base;
            if (got !== want) {
              this.tally.bytesLost++;
              throw new Error(`mapping ${x.id} page ${k}: byte ${at} reads ${got}, model ${want}`);
            }
          }
        }
        for (const [o, b] of x.written) {
          if (o >= p * page && o < q * page) {
            this.tally.bytesVerified++;
            if (u8[o - p * page] !== b) {
              this.tally.bytesLost++;
              throw new Error(`mapping ${x.id} byte ${o}: reads ${u8[o - p * page]}, written ${b}`);
            }
          }
        }
        // The check view is detached at once so it cannot outlive a later protect.
        p = q;
      }
    }
  }

  /** Unmaps everything the model holds and closes its files. */
  dispose(): void {
    for (const x of [...this.arenas]) if (!x.closed) this.#closeArena(x);
    for (const b of this.blocks) if (b.view.byteLength !== 0) throw new Error('a block of a closed arena still has a length');
    for (const x of [...this.#live()]) {
      x.m.unmap();
      this.#gone(x);
    }
  }
}

/** Makes a scratch directory for file mappings. */
export function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-model-'));
}
