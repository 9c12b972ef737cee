/**
 * The residency reads behind `Mapping.residentPages` and
 * `Mapping.residencyVector`: `mincore`, or this process's page tables where
 * `mincore` would count page-cache pages. (`residency()`, which names its
 * source and chooses among more, is in lib/measure/residency.ts.)
 */
import { native, type RegionHandle } from '../native/binding';
import { maxArrayBufferLength } from '../kernel/system';
import { outOfRange } from '../errors';

const pagemapOut = new Float64Array(7);

/** Pages of [off, off + len) this process maps now: pagemap for shared and file mappings, else `mincore`. */
export function residentPages(region: RegionHandle, kind: { readonly file: boolean; readonly shared: boolean }, off: number, len: number): number {
  if (kind.shared || kind.file) {
    native.pagemapCount(region, off, len, pagemapOut, 0n);
    return pagemapOut[0]!;
  }
  return native.mincore(region, off, len, null);
}

/** The `mincore` vector of [off, off + len), one byte per page of `page` bytes. */
export function residencyVector(region: RegionHandle, off: number, len: number, page: number): Uint8Array {
  const pages = Math.ceil(len / page);
  if (pages > maxArrayBufferLength()) {
    throw outOfRange('length', `at most ${maxArrayBufferLength()} pages (one byte each in one Uint8Array on Node ${process.version}); ask for a smaller range`, len);
  }
  const vec = new Uint8Array(pages);
  native.mincore(region, off, len, vec);
  return vec;
}
