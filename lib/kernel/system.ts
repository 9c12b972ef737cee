/**
 * Facts about the running kernel and Node, read at run time (never a
 * literal page size). The kernel facts live in `proc/facts`; this module
 * is their public face, with Node's own limits.
 */
import { constants as bufferConstants } from 'node:buffer';
import { pageSize } from './facts';

export { pageSize, hugePageSize, hugetlbPools } from './facts';

/** The largest ArrayBuffer the running Node allows (2^32 on Node 20). */
export function maxArrayBufferLength(): number {
  return bufferConstants.MAX_LENGTH;
}

/** Rounds `n` up to a multiple of `page`. */
export function roundUp(n: number, page: number = pageSize()): number {
  return Math.ceil(n / page) * page;
}
