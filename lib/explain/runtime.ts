/**
 * Runtime statistics of the calling Node process: V8's heap by space,
 * process.memoryUsage() and glibc's mallinfo2() (from the native layer).
 * @internal
 */
import * as v8 from 'node:v8';
import { native } from '../native/binding';
import type { RuntimeStats } from './types';

/** This process's runtime statistics, now. */
export function runtimeStats(): RuntimeStats {
  const mu = process.memoryUsage();
  return {
    v8Spaces: v8.getHeapSpaceStatistics().map((s) => ({
      name: s.space_name, size: s.space_size, used: s.space_used_size, physical: s.physical_space_size,
    })),
    arrayBuffers: mu.arrayBuffers,
    external: mu.external,
    heapUsed: mu.heapUsed,
    heapTotal: mu.heapTotal,
    malloc: native.mallinfo2(),
    pagewiseRanges: Array.from(native.regionsHeld(), (x) => `0x${x.toString(16)}`),
    time: Date.now(),
  };
}
