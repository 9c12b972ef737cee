/** A young-generation collection between samples, outside any timing. @internal */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collector = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;
let collector: Collector | null | undefined;

/**
 * V8's garbage collector, to run a young-generation collection between
 * samples, outside any timing. Without it, a contender pays for the garbage
 * the one before it left: a `Buffer.alloc` loop of 4 KiB buffers leaves thousands of
 * dead ArrayBuffers whose backing stores the next contender's first
 * scavenge frees on its own clock (the arena's small alloc+free loop ran
 * several times slower after a Buffer.alloc loop). A minor collection
 * empties the young generation and nothing more; a full one would move
 * long-lived objects and disturb every contender (arena loops ran slower
 * after it). `globalThis.gc` when Node runs with
 * `--expose-gc`; otherwise V8's flag is set at run time and the function
 * taken from a fresh context. `null` when neither works.
 * @internal
 */
export function gcCollector(): Collector | null {
  if (collector !== undefined) return collector;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return (collector = exposed as Collector);
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    collector = typeof fn === 'function' ? (fn as Collector) : null;
  } catch {
    collector = null;
  }
  return collector;
}

/** What runs between samples: `'minor GC'` or `'none'` (see {@link gcCollector}). */
export function betweenSamples(): string {
  return gcCollector() ? 'minor GC' : 'none';
}
