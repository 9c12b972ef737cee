/**
 * The `heap` buffers of the arena by handle, marked so that `discard()`
 * refuses them (it would zero every handle block in the pages it covers).
 * @internal
 */
import { addDiscardGuard } from '../process/discard';

/** Returns its argument from `super()`, so {@link HeapBuffer} can stamp a private field on a buffer. */
class Stamp {
  constructor(target: object) {
    return target;
  }
}

/**
 * The `heap` buffers, marked by a private field (as `OwnedBuffer` marks the
 * view API's buffers): a caller cannot set or remove the mark.
 */
export class HeapBuffer extends Stamp {
  #heap = true;
  static tag(buf: ArrayBuffer): void {
    new HeapBuffer(buf);
  }
  static is(buf: unknown): boolean {
    return typeof buf === 'object' && buf !== null && #heap in buf;
  }
}

// discard() (lib/process/discard.ts) of a heap, a bytes() window or any view
// over a heap buffer would zero every handle block in the pages it covers.
addDiscardGuard((_target, ab) =>
  HeapBuffer.is(ab)
    ? "it is an Arena's heap, which holds every handle block's bytes; free the blocks with freeHandle() and call arena.purge()"
    : null,
);
