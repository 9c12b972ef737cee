/** `/proc/uptime` and the clock tick: what a CPU percentage over `/proc/PID/stat` is computed with. */
import * as fs from 'node:fs';
import { invalidType } from '../errors';
import { linesOf, ProcParseError } from './parse';

/** `/proc/uptime`: seconds since boot (CLOCK_BOOTTIME) and idle seconds summed over CPUs, 10 ms resolution. */
export interface Uptime {
  uptime: number;
  idle: number;
}

/** Parses `/proc/uptime` text (`"12345.67 23456.78\n"`). Throws {@link ProcParseError} unless it holds two decimals. */
export function parseUptime(text: string): Uptime {
  const { lines } = linesOf('uptime', text, false);
  const m = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec((lines[0] ?? '').trim());
  if (!m) throw new ProcParseError('uptime', 1, `expected two decimals, found ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`);
  return { uptime: Number(m[1]), idle: Number(m[2]) };
}

/** Reads and parses `/proc/uptime` once. */
export function readUptime(): Uptime {
  return parseUptime(fs.readFileSync('/proc/uptime', 'latin1'));
}

/** auxv entry types (include/uapi/linux/auxvec.h). */
const AT_NULL = 0n;
const AT_CLKTCK = 17n;

/**
 * The clock tick (`sysconf(_SC_CLK_TCK)`, the unit of stat's `utime`,
 * `stime` and `starttime`) from auxv bytes: the value of `AT_CLKTCK`, or
 * `null` when the vector has none. `auxv` is `/proc/self/auxv` as the kernel
 * wrote it: pairs of native-endian 64-bit words (every platform pagewise
 * runs on is 64-bit little-endian), ending with `AT_NULL`.
 */
export function parseAuxvClockTick(auxv: Uint8Array): number | null {
  if (!(auxv instanceof Uint8Array)) throw invalidType('auxv', 'an instance of Uint8Array', auxv);
  if (auxv.byteLength % 16 !== 0) throw new ProcParseError('auxv', 0, `length ${auxv.byteLength} is not a multiple of 16 (pairs of 64-bit words)`);
  const view = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
  for (let at = 0; at < auxv.byteLength; at += 16) {
    const type = view.getBigUint64(at, true);
    if (type === AT_NULL) return null;
    if (type === AT_CLKTCK) {
      const v = Number(view.getBigUint64(at + 8, true));
      return v > 0 ? v : null;
    }
  }
  return null;
}

let cachedTick = 0;

/**
 * Clock ticks per second of this kernel's `/proc` times (`sysconf(_SC_CLK_TCK)`,
 * which glibc reads from the same `AT_CLKTCK`; USER_HZ, 100 on x86-64 and
 * arm64). Read once from `/proc/self/auxv`: no process is spawned (pidusage
 * runs `getconf CLK_TCK`).
 */
export function clockTicks(): number {
  if (!cachedTick) {
    const tick = parseAuxvClockTick(fs.readFileSync('/proc/self/auxv'));
    if (tick === null) throw new ProcParseError('auxv', 0, 'no AT_CLKTCK entry');
    cachedTick = tick;
  }
  return cachedTick;
}
