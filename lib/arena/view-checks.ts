/**
 * The checks that tie a view to a live block of a {@link Heap}, and the
 * errors for a view that is not one.
 * @internal
 */
import { invalidState, invalidType, invalidValue } from '../errors';
import { type Heap } from './heap';
import { OWN, RUN } from './pages';
import { bufferOf, isUint8Array } from './intrinsics';
import { Block, K_CHUNK, K_OWN, K_SLAB, OwnedBuffer, type Owner } from './owners';

/** The owner of a live block's view, as `free()` checks it (without freeing). */
export function liveOwner(h: Heap, view: Uint8Array): Owner {
  const owner = typeof view === 'object' && view !== null ? Block.owner(view) : undefined;
  if (owner === undefined) throw notAllocated(h, view);
  if (!owns(h, owner)) throw notLive(h, view);
  const idx = Block.index(view);
  if (owner.kind === K_SLAB) {
    if (owner.bits[idx >>> 5]! & (1 << (idx & 31))) throw invalidValue('view', 'was already freed', view);
  } else if (!h.runs.isHead(idx, owner.kind === K_OWN ? OWN : RUN) || (owner.kind === K_OWN && owner.page !== idx)) {
    throw invalidValue('view', 'was already freed', view);
  }
  return owner;
}

/** The error for a view `alloc()` did not return: part of a block, another arena's, or not a view. */
export function notAllocated(h: Heap, view: unknown): TypeError {
  if (!isUint8Array(view)) return invalidType('view', 'an instance of Uint8Array', view);
  if (h.closed) return invalidState('The arena is closed');
  const owner = OwnedBuffer.owner(bufferOf(view));
  if (owner !== undefined && owns(h, owner)) {
    return invalidValue('view', 'is not a block returned by alloc() (a part of one, or another view over its memory)', view);
  }
  return notLive(h, view);
}

export function owns(h: Heap, owner: Owner): boolean {
  if (owner.kind === K_SLAB) return h.slabs[owner.id] === owner;
  if (owner.kind === K_CHUNK) return h.segOf[owner.index] === owner;
  return h.own[owner.id] === owner;
}

export function notLive(h: Heap, view: Uint8Array): TypeError {
  if (h.closed) return invalidState('The arena is closed');
  return invalidValue('view', 'is not a live block of this arena (already freed, freed by reset(), or allocated elsewhere)', view);
}
