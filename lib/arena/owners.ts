/**
 * The arena's owner records and the views it hands out.
 *
 * Every ArrayBuffer the arena makes belongs to one owner: a slab of small
 * blocks, a segment (the chunks one commit added, whose buffer medium blocks
 * view), or a page run with its own buffer (large blocks). The owner is kept
 * in a private field of the buffer ({@link OwnedBuffer}), and each view
 * `alloc()` returns carries its owner and block number in private fields
 * ({@link Block}): nothing a caller can reach holds them, so `free()` can
 * check a view exactly without trusting any property of it.
 * @internal
 */
import { fillOf, I32, setOf, U8 } from './intrinsics';
import { addDiscardGuard, addDiscardRangeGuard } from '../process/discard';
import { inArenaReservation } from './live';

export const K_SLAB = 0;
export const K_CHUNK = 1;
export const K_OWN = 2;

/** A slab of equal small blocks, with its own ArrayBuffer. */
export class Slab {
  readonly kind = K_SLAB;
  /** Free blocks; one bit per block, 1 = free. */
  free: number;
  /** No free block lies in a word before this one. */
  hint = 0;
  /** In its class's list of partly free slabs. */
  listed = false;
  /** Neighbours in its class's list of partly free slabs. */
  prevP: Slab | null = null;
  nextP: Slab | null = null;
  /**
   * Each page's state: the number of live blocks touching it (> 0); 0 when
   * none does and the page may hold data (free and dirty); -1 when it is
   * free and known clean (fresh, or purged since it was last used).
   */
  readonly st: Int32Array;
  constructor(
    readonly id: number,
    readonly cls: number,
    readonly size: number,
    readonly count: number,
    readonly page: number,
    public buf: ArrayBuffer,
    readonly bits: Uint32Array,
    pages: number,
  ) {
    this.free = count;
    this.st = fillOf(new I32(pages), -1) as Int32Array;
  }
}

/**
 * The chunks one commit added, viewed through one ArrayBuffer (made when a
 * block first needs it): medium blocks are views of it. Commits grow with
 * the arena (see `#commit`), so a large arena has few segments, and V8
 * counts each segment's bytes once, when its buffer is made.
 */
export class Segment {
  readonly kind = K_CHUNK;
  buf: ArrayBuffer | null = null;
  constructor(readonly index: number, readonly chunks: number) {}
}

/** A page run with its own ArrayBuffer. */
export class OwnBlock {
  readonly kind = K_OWN;
  constructor(readonly id: number, readonly page: number, readonly pages: number, public buf: ArrayBuffer) {}
}

export type Owner = Slab | Segment | OwnBlock;

/** Returns its argument from `super()`, so {@link Block} can stamp private fields on a view. */
class Stamp {
  constructor(target: object) {
    return target;
  }
}

/**
 * The owner of each ArrayBuffer the arena makes, in a private field of the
 * buffer itself: invisible to `Object.getOwnPropertySymbols`, `util.inspect`
 * and Proxies, and impossible to write from outside this module.
 */
export class OwnedBuffer extends Stamp {
  #owner: Owner;
  private constructor(buf: ArrayBuffer, owner: Owner) {
    super(buf);
    this.#owner = owner;
  }

  static tag(buf: ArrayBuffer, owner: Owner): void {
    new OwnedBuffer(buf, owner);
  }

  static owner(buf: unknown): Owner | undefined {
    return typeof buf === 'object' && buf !== null && #owner in buf ? (buf as OwnedBuffer).#owner : undefined;
  }
}

/** The owner and block of the next view {@link blockView} makes (module-private: nothing else can set them). */
let nextOwner: Owner | undefined;
let nextIndex = 0;

/**
 * The views `alloc()` returns: Uint8Arrays that carry their owner and their
 * block (slab block index, or first page of a run) in private fields. They
 * cannot be forged, copied (`Object.assign`, spread) or seen
 * (`util.inspect`), and a `subarray()` or a new view over the same buffer
 * lacks them, so `free()` knows a block it handed out without reading
 * `buffer`/`byteOffset`. The fields are declared by the class, so V8 keeps
 * them inside the object (stamping fields on a plain Uint8Array afterwards
 * costs a second allocation per view: BENCHMARKS.md, "Figures behind the
 * arena's code"). Constructing one
 * from outside (`new view.constructor(...)`) gives a view with no owner:
 * the owner comes only from module-private variables. `subarray`, `slice`,
 * `map` and friends make plain Uint8Arrays (`Symbol.species`).
 */
class ArenaView extends U8 {
  #owner: Owner | undefined = nextOwner;
  #index: number = nextIndex;

  static get [Symbol.species](): Uint8ArrayConstructor {
    return U8;
  }

  static owner(view: object): Owner | undefined {
    return #owner in view ? (view as ArenaView).#owner : undefined;
  }

  /** Call only after {@link ArenaView.owner} returned an owner. */
  static index(view: object): number {
    return (view as ArenaView).#index;
  }
}

/** Makes the view of a block: `length` bytes at `offset` of `buf`, owned by `owner`. */
export function blockView(buf: ArrayBuffer, offset: number, length: number, owner: Owner, index: number): Uint8Array {
  nextOwner = owner;
  nextIndex = index;
  const v = new ArenaView(buf, offset, length);
  nextOwner = undefined;
  return v;
}

export const Block = ArenaView;

/** A stack of ids in a typed array (no array `length` writes: each is a runtime call in V8). */
export class IdStack {
  #ids = new I32(16);
  #cap = 16;
  #n = 0;
  push(id: number): void {
    if (this.#n === this.#cap) {
      this.#cap *= 2;
      const grown = new I32(this.#cap);
      setOf(grown, this.#ids);
      this.#ids = grown;
    }
    this.#ids[this.#n++] = id;
  }

  /** The last id pushed, or `fresh` when none is left. */
  pop(fresh: number): number {
    return this.#n > 0 ? this.#ids[--this.#n]! : fresh;
  }
}

// discard() (lib/process/discard.ts) of arena memory: a block's own view
// gives back the whole pages inside that block; any other view or the
// ArrayBuffer of a slab, run or chunk would zero other blocks' bytes.
// By address too: a buffer transfer()ed out of an arena is a new ArrayBuffer
// pagewise never saw, over the same pages (this thread's arenas).
addDiscardRangeGuard((first, last, target) =>
  ArenaView.owner(target) === undefined && inArenaReservation(first, last)
    ? "its pages lie in an Arena's reservation (a buffer moved out of the arena with transfer(), say), which holds other blocks' bytes; discard the view alloc() returned, or use arena.free() and arena.purge()"
    : null,
);
addDiscardGuard((target, ab) =>
  OwnedBuffer.owner(ab) !== undefined && ArenaView.owner(target) === undefined
    ? "it is an Arena's memory, which holds other blocks' bytes; discard the view alloc() returned (its own pages), or use arena.free() and arena.purge()"
    : null,
);
