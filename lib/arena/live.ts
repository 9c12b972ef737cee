/**
 * The arenas alive in this thread, for the metrics (`pagewise_arena_*`):
 * weak references, so being listed keeps no arena alive, and a closed or
 * collected arena drops out at the next listing. The list is a plain array
 * written by index with built-ins captured at load: a caller who patches
 * `Array.prototype` or `WeakRef.prototype` cannot make the Arena
 * constructor throw after its reservation is made.
 */
import type { Arena } from './arena';

const WeakRefOf = WeakRef;
const derefOf = Function.prototype.call.bind(WeakRef.prototype.deref) as (ref: WeakRef<Arena>) => Arena | undefined;

interface Entry {
  ref: WeakRef<Arena>;
  name: string;
  /** The reservation's address range (it never moves): for discard() to know arena memory by address. */
  lo: bigint;
  hi: bigint;
}

let entries: Entry[] = [];
/** Length after the last compaction: the list is compacted when it doubles, so it stays proportional to the live arenas. */
let compactedAt = 16;

function compact(): void {
  const kept: Entry[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const a = derefOf(e.ref);
    if (a !== undefined && !a.closed) kept[kept.length] = e;
  }
  entries = kept;
  compactedAt = kept.length * 2 > 16 ? kept.length * 2 : 16;
}

/** @internal Called by the Arena constructor with the arena's name (`options.name`, default `'arena'`). */
export function trackArena(arena: Arena, name: string, lo: bigint, hi: bigint): void {
  if (entries.length >= compactedAt) compact();
  entries[entries.length] = { ref: new WeakRefOf(arena), name, lo, hi };
}

/** Whether [first, last) overlaps the reservation of an open arena of this thread. */
export function inArenaReservation(first: bigint, last: bigint): boolean {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.lo < last && first < e.hi) {
      const a = derefOf(e.ref);
      if (a !== undefined && !a.closed) return true;
    }
  }
  return false;
}

/** The open arenas of this thread, oldest first, each with its name (`options.name`, default `'arena'`). */
export function liveArenas(): { arena: Arena; name: string }[] {
  compact();
  const out: { arena: Arena; name: string }[] = [];
  for (const e of entries) out.push({ arena: derefOf(e.ref)!, name: e.name });
  return out;
}
