/**
 * The baseline a user would write instead of an off-heap allocator: a
 * pure-JS slab pool over `Buffer.allocUnsafe` with power-of-two classes and
 * free lists of `(buffer, offset)` blocks (RESEARCH.md: it beats
 * `Buffer.allocUnsafe` 2-3x on mixed sizes). Every block is a JS object.
 * @internal
 */

/** One block of the pool: bytes `[off, off + size)` of `buf`. */
export interface PoolBlock {
  buf: Buffer;
  off: number;
  cls: number;
}

const SLAB = 64 * 1024;

/** The 40-line pool. */
export class JsSlabPool {
  private readonly lists: PoolBlock[][] = [];
  private readonly slab: (Buffer | null)[] = [];
  private readonly used: number[] = [];

  constructor() {
    for (let c = 0; c <= 31; c++) {
      this.lists.push([]);
      this.slab.push(null);
      this.used.push(0);
    }
  }

  alloc(size: number): PoolBlock {
    const cls = size <= 16 ? 4 : 32 - Math.clz32(size - 1);
    const list = this.lists[cls]!;
    if (list.length > 0) return list.pop()!;
    const bytes = 2 ** cls;
    if (bytes >= SLAB) return { buf: Buffer.allocUnsafe(bytes), off: 0, cls };
    let slab = this.slab[cls]!;
    let used = this.used[cls]!;
    if (slab === null || used + bytes > SLAB) {
      slab = Buffer.allocUnsafe(SLAB);
      this.slab[cls] = slab;
      used = 0;
    }
    this.used[cls] = used + bytes;
    return { buf: slab, off: used, cls };
  }

  free(block: PoolBlock): void {
    this.lists[block.cls]!.push(block);
  }
}
