/** Touching pages one byte each, written so the JIT does not fault mid-loop. @internal */

/** Writes one byte to each of `count` pages of `view`, starting at page `first`. Kept monomorphic so the JIT does not fault mid-loop. */
export function touchPages(view: Uint8Array, page: number, first: number, count: number, value = 1): void {
  const end = (first + count) * page;
  for (let off = first * page; off < end; off += page) view[off] = value;
}

/** Reads one byte of each of `count` pages; returns their sum (so the reads are not optimised away). */
export function readPages(view: Uint8Array, page: number, first: number, count: number): number {
  let sum = 0;
  const end = (first + count) * page;
  for (let off = first * page; off < end; off += page) sum += view[off]!;
  return sum;
}
