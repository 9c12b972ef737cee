/**
 * The header of a SharedArena's metadata, and the check of a token that
 * `SharedArena.attach()` runs before it maps anything: the memory against
 * the native registry of shared mappings, the metadata against its header.
 * @internal
 */
import { type ShareToken } from '../mapping';
import { checkToken } from '../sharing/share';
import { invalidType, invalidValue } from '../errors';
import { I32 } from './intrinsics';
import { H_ID_HI, H_ID_LO, H_MAGIC, H_SPANS, H_VERSION, layout, MAGIC, SPAN, VERSION } from './shared-layout';
import { type SharedArenaToken } from './shared-types';

const { load, store } = Atomics;
const sabByteLengthOf = Function.prototype.call.bind(
  Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength')!.get as () => number,
) as unknown as (sab: unknown) => number;

/** Writes the header of new metadata for `spans` spans of the memory shared as `id` (the magic last). */
export function writeHeader(meta: Int32Array, spans: number, id: bigint): void {
  store(meta, H_SPANS, spans);
  store(meta, H_ID_LO, Number(id & 0xffffffffn) | 0);
  store(meta, H_ID_HI, Number(id >> 32n) | 0);
  store(meta, H_VERSION, VERSION);
  store(meta, H_MAGIC, MAGIC);
}

/** The memory token and metadata of a token made by `share()`, checked (TypeError or RangeError before anything is mapped). */
export function checkSharedToken(token: unknown): { memory: ShareToken; meta: SharedArrayBuffer } {
  if (typeof token !== 'object' || token === null) throw invalidType('token', 'a token made by sharedArena.share()', token);
  const t = token as Partial<SharedArenaToken>;
  if (t.pagewiseSharedArena !== 1) throw invalidType('token', 'a token made by sharedArena.share()', token);
  const meta = t.meta;
  let metaBytes: number;
  try {
    metaBytes = sabByteLengthOf(meta);
  } catch {
    throw invalidType('token.meta', 'a SharedArrayBuffer made by sharedArena.share()', meta);
  }
  const memory = checkToken(t.memory);
  if (memory.kind.file || memory.kind.shared || !memory.kind.noReserve || memory.length % SPAN !== 0) {
    throw invalidValue('token.memory', 'is not the memory of a SharedArena', t.memory);
  }
  const spans = memory.length / SPAN;
  if (metaBytes !== layout(spans).words * 4) throw invalidValue('token.meta', 'is not the metadata of this SharedArena', meta);
  const m = new I32(meta as SharedArrayBuffer);
  const id = memory.id;
  if (load(m, H_MAGIC) !== MAGIC || load(m, H_VERSION) !== VERSION || load(m, H_SPANS) !== spans ||
      load(m, H_ID_LO) !== (Number(id & 0xffffffffn) | 0) || load(m, H_ID_HI) !== (Number(id >> 32n) | 0)) {
    throw invalidValue('token.meta', 'is not the metadata of this SharedArena', meta);
  }
  return { memory: t.memory!, meta: meta as SharedArrayBuffer };
}
