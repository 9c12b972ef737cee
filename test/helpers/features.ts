/** Children with kernel features turned off (PAGEWISE_FORCE_MISSING), and what /proc/self/maps lists: for the tests of the memory calls. */
import { readMaps } from '../../lib/kernel/maps-query';
import * as fs from 'node:fs';
import { mmap } from '../../lib/index';
import { runChild } from './child';

/** VMAs of /proc/self/maps that overlap [start, end). */
export function vmasOver(start: bigint, end: bigint): number {
  return readMaps().filter((e) => e.start < end && start < e.end).length;
}

/** Runs `code` in a child with `feature` turned off; `out` is what it threw. */
export function forcedOff(feature: string, code: string): { out: Record<string, unknown>; status: number | null; signal: string | null } {
  return runChildWithEnv({ PAGEWISE_FORCE_MISSING: feature }, `const out = {}; try { ${code}; out.ok = true; } catch (e) { out.code = e.code; out.message = e.message; } console.log(JSON.stringify(out));`);
}

export function runChildWithEnv(env: Record<string, string>, code: string): { out: Record<string, unknown>; status: number | null; signal: string | null } {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(env)) {
    saved[k] = process.env[k];
    process.env[k] = env[k];
  }
  try {
    const r = runChild(code);
    const line = r.stdout.trim().split('\n').pop() ?? '{}';
    return { out: JSON.parse(line) as Record<string, unknown>, status: r.status, signal: r.signal };
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

/** Whether /proc/self/maps lists a mapping covering `address`. */
export function inMaps(address: bigint): boolean {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').some((l) => {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l);
    return m !== null && BigInt(`0x${m[1]}`) <= address && address < BigInt(`0x${m[2]}`);
  });
}

/**
 * Mappings placed with `place(at)` at the bottom of a free range of `room`
 * bytes (one the kernel just handed out and took back). Another thread (V8's)
 * may map into that range between the two steps (EEXIST from
 * MAP_FIXED_NOREPLACE): then `undo()` unmaps what landed and a new range is
 * found, up to 100 times.
 */
export function atFreeRange<T>(room: number, place: (at: bigint) => T, undo: (partial: unknown) => void = () => {}): T {
  for (let i = 0; ; i++) {
    const probe = mmap(room, { noReserve: true, prot: 'none' });
    const at = probe.address;
    probe.unmap();
    try {
      return place(at);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST' || i === 100) throw err;
      undo(err);
    }
  }
}
