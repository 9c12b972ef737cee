/**
 * The model of the sharing property test (test/reliability-property-sharing.test.ts):
 * memory with an identity, the mappings over it, and the random steps.
 */
import fc from 'fast-check';
import { pageSize, type Mapping, type Prot, type ShareToken, type SharedMemory } from '../../../lib/index';

const page = pageSize();
/** The largest mapping of a sequence, in pages. */
export const MAX_PAGES = 12;

/** Memory with an identity: what its bytes should read (by offset), and pages whose content is no longer known. */
export interface Mem {
  written: Map<number, number>;
  /** Bytes that read as this unless written (0 for anonymous memory, the fill for a file). */
  base: number;
  unknown: Set<number>;
}

export type Kind = 'anon' | 'anonShared' | 'memfd' | 'filePrivate';

export interface ModelMapping {
  m: Mapping;
  kind: Kind;
  mem: Mem;
  pages: number;
  /** Pages it may reach: shared anonymous memory cannot grow past its first size; a file mapping past its file. */
  limit: number;
  /** Protection per page (attachments share their owner's array: one VMA). */
  prot: Prot[];
  guarded: boolean[];
  sealed: boolean;
  shm: SharedMemory | null;
  token: ShareToken | null;
  /** Other holders of the same memory (this thread's attachments and the owner). */
  peers: ModelMapping[];
  /** Views made over it, with the offset in the mapping each starts at. */
  views: { u8: Uint8Array; off: number }[];
}

export type Op =
  | { t: 'mmap'; kind: Kind; pages: number }
  | { t: 'unmap' | 'drop' | 'share' | 'attach' | 'seal' | 'check' | 'gc'; i: number }
  | { t: 'view'; i: number; p: number; n: number }
  | { t: 'write'; v: number; pos: number; byte: number }
  | { t: 'resize'; i: number; pages: number; mayMove: boolean }
  | { t: 'protect'; i: number; prot: Prot; p: number; n: number }
  | { t: 'guard'; i: number; p: number; n: number; on: boolean }
  | { t: 'shmResize'; i: number; pages: number }
  | { t: 'transfer'; v: number }
  | { t: 'escapedWrite'; e: number; pos: number; byte: number }
  | { t: 'wAttach'; w: number; i: number }
  | { t: 'wWrite'; w: number; pos: number; byte: number }
  | { t: 'wUnmap'; w: number }
  | { t: 'wTerminate'; w: number };

export function opArb(): fc.Arbitrary<Op> {
  const i = fc.nat(7);
  const p = fc.nat(MAX_PAGES);
  const w = fc.nat(1);
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('mmap' as const), kind: fc.constantFrom<Kind>('anon', 'anon', 'anonShared', 'memfd', 'filePrivate'), pages: fc.integer({ min: 1, max: MAX_PAGES }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constantFrom('unmap' as const, 'drop' as const, 'seal' as const, 'gc' as const), i }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constantFrom('share' as const, 'attach' as const, 'check' as const), i }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('view' as const), i, p, n: p }) },
    { weight: 8, arbitrary: fc.record({ t: fc.constant('write' as const), v: fc.nat(15), pos: fc.nat(MAX_PAGES * page), byte: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('resize' as const), i, pages: fc.integer({ min: 1, max: MAX_PAGES }), mayMove: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('protect' as const), i, prot: fc.constantFrom<Prot>('rw', 'rw', 'r', 'none'), p, n: p }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('guard' as const), i, p, n: fc.integer({ min: 1, max: 3 }), on: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('shmResize' as const), i, pages: fc.integer({ min: 1, max: MAX_PAGES }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('transfer' as const), v: fc.nat(15) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('escapedWrite' as const), e: fc.nat(7), pos: fc.nat(MAX_PAGES * page), byte: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('wAttach' as const), w, i }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('wWrite' as const), w, pos: fc.nat(MAX_PAGES * page), byte: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('wUnmap' as const), w }) },
    // Terminating a worker (a new one takes its place) is the costly step: rare.
    { weight: 1, arbitrary: fc.record({ t: fc.constant('wTerminate' as const), w }) },
  );
}
