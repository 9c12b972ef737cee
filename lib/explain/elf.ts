/**
 * Where a loaded object's `.bss` ends: from its ELF program headers (the
 * last PT_LOAD's p_vaddr + p_memsz), so the anonymous mapping right after an
 * object's data is called its `.bss` only when it ends there (the kernel
 * merges a neighbouring anonymous mmap into it otherwise, and that memory is
 * someone else's).
 * @internal
 */
import * as fs from 'node:fs';

/** Link-time extent of an ELF64 little-endian object's PT_LOAD segments, or null. */
export interface ElfLoads {
  /** p_vaddr of the first PT_LOAD. */
  firstVaddr: bigint;
  /** p_vaddr + p_memsz of the last PT_LOAD. */
  end: bigint;
}

/** Parses the PT_LOAD extent from an ELF file's first bytes (header and program headers). Pure. */
export function parseElfLoads(head: Buffer): ElfLoads | null {
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return null;
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize < 56 || phoff + phentsize * phnum > head.length) return null;
  let first: bigint | null = null;
  let end = 0n;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (head.readUInt32LE(o) !== 1) continue; // PT_LOAD
    const vaddr = head.readBigUInt64LE(o + 16);
    const memsz = head.readBigUInt64LE(o + 40);
    if (first === null) first = vaddr;
    if (vaddr + memsz > end) end = vaddr + memsz;
  }
  return first === null ? null : { firstVaddr: first, end };
}

const cache = new Map<string, ElfLoads | null>();
/** Kept, so that reading headers allocates no ArrayBuffer (see read.ts). */
const head = Buffer.allocUnsafeSlow(65536);

/** {@link parseElfLoads} of a file (first 64 KiB), cached by path; null when unreadable or not ELF64 LE. */
export function elfLoads(file: string): ElfLoads | null {
  if (cache.has(file)) return cache.get(file)!;
  let out: ElfLoads | null = null;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const n = fs.readSync(fd, head, 0, head.length, 0);
      out = parseElfLoads(head.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    out = null;
  }
  cache.set(file, out);
  return out;
}
