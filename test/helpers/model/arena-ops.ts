/** The arena operations of the model. */
import { Arena, LARGE_BLOCK_BYTES, faults, pageSize, residency, rss } from '../../../lib/index';
import { ModelState } from './state';
import { HOSTILE_NUMBERS, HOSTILE_OPTIONS, type ModelArena, type Op } from './ops';

const page = pageSize();

/** The model with its arena operations. */
export class ArenaOps extends ModelState {
  protected arena(a: number): ModelArena | undefined {
    const open = this.arenas.filter((x) => !x.closed);
    return open.length ? open[a % open.length] : undefined;
  }

  protected arenaOp(op: Op): void {
    switch (op.t) {
      case 'arenaNew': {
        const chunkSize = op.chunkPages * page;
        const arena = new Arena({ reserve: op.chunks * chunkSize, chunkSize, purge: op.purge ? 'free' : 'dontneed', hugePages: false });
        this.arenas.push({ arena, reserve: op.chunks * chunkSize, closed: false });
        if (this.arenas.filter((x) => !x.closed).length > 3) this.closeArena(this.arenas.find((x) => !x.closed)!);
        return;
      }
      case 'arenaAlloc': {
        const x = this.arena(op.a);
        if (!x) return;
        let view: Uint8Array | null = null;
        const r = this.attempt(() => {
          view = op.how === 0 ? x.arena.alloc(op.size) : op.how === 1 ? x.arena.tryAlloc(op.size) : x.arena.allocZeroed(op.size);
        });
        // A block larger than the whole reservation is a RangeError.
        if (r === 'state' || (r === 'validation' && op.size <= x.reserve)) throw new Error(`arena alloc(${op.size}) refused: ${r}`);
        const v = view as Uint8Array | null;
        if (r !== null || v === null) return; // ENOMEM: the reservation is full
        if (v.byteLength !== op.size) throw new Error(`alloc(${op.size}) gave ${v.byteLength} bytes`);
        if (op.how === 2) for (const k of [0, op.size >> 1, op.size - 1]) if (op.size && v[k] !== 0) throw new Error(`allocZeroed byte ${k} is ${v[k]}`);
        v.fill(op.byte);
        this.blocks.push({ view: v, owner: x, size: op.size, byte: op.byte, state: 'live' });
        if (this.blocks.length > 64) this.blocks.shift();
        return;
      }
      case 'arenaFree': {
        const live = this.blocks.filter((b) => b.state === 'live');
        if (!live.length) return;
        const b = live[op.b % live.length]!;
        b.owner.arena.free(b.view);
        b.state = b.size >= LARGE_BLOCK_BYTES ? 'dead' : 'freed';
        return;
      }
      case 'arenaBadFree': {
        this.tally.hostile++;
        const x = this.arena(op.a);
        const b = this.blocks.length ? this.blocks[op.b % this.blocks.length]! : undefined;
        const target = x ?? b?.owner;
        if (!target) return;
        const other = this.arenas.find((y) => y !== b?.owner && !y.closed);
        const alive = b !== undefined && b.view.byteLength > 0;
        const bad: (() => unknown)[] = [
          () => (b && b.state !== 'live' ? b.view : new Uint8Array(8)), // freed (or dead) view, else a plain one
          () => (alive && b.size > 1 ? b.view.subarray(1) : new Uint8Array(0)),
          () => new Uint8Array(16),
          () => b?.view.buffer,
          () => 42,
          () => null,
          () => ({ byteLength: 8 }),
          () => (alive ? new DataView(b.view.buffer) : 'x'),
        ];
        const arena = op.kind === 2 && other && b ? other.arena : target.arena;
        const value = op.kind === 2 && b && b.state === 'live' ? b.view : bad[op.kind % bad.length]!();
        if (arena === target.arena && value === b?.view && b?.state === 'live' && b.owner.arena === arena) return;
        const before = this.blocks.map((k) => k.view.byteLength).join();
        const r = this.attempt(() => arena.free(value as Uint8Array));
        if (r === null && b && value === b.view && b.state === 'freed' && b.owner.arena === arena) {
          // The documented ABA case: a stale view of a small or medium block
          // whose slot was handed out again frees the new block. The model
          // no longer knows which of this arena's blocks are live.
          for (const k of this.blocks) if (k.owner === b.owner && k.state === 'live') k.state = 'freed';
          return;
        }
        if (r === null) throw new Error(`free(${op.kind}) of a foreign or stale value succeeded`);
        if (r === 'system') throw new Error('a bad free reached a system call');
        if (this.blocks.map((k) => k.view.byteLength).join() !== before) throw new Error('a refused free changed a block');
        return;
      }
      case 'arenaReset': {
        const x = this.arena(op.a);
        if (!x) return;
        x.arena.reset({ decommit: op.decommit });
        for (const b of this.blocks) if (b.owner === x) b.state = 'dead';
        return;
      }
      case 'arenaPurge': {
        const x = this.arena(op.a);
        if (!x) return;
        const n = x.arena.purge();
        if (!Number.isSafeInteger(n) || n < 0 || n % page !== 0) throw new Error(`purge returned ${n}`);
        return;
      }
      case 'arenaPrefault': {
        const x = this.arena(op.a);
        if (!x) return;
        const r = this.attempt(() => x.arena.prefault(op.bytes));
        if (r === 'state') throw new Error('prefault on an open arena refused');
        return;
      }
      case 'arenaStats': {
        const x = this.arena(op.a);
        if (!x) return;
        const st = x.arena.stats();
        const live = this.blocks.filter((b) => b.owner === x && b.state === 'live').reduce((n, b) => n + b.size, 0);
        if (st.allocated < live) throw new Error(`stats().allocated ${st.allocated} < live bytes ${live}`);
        if (st.committed > st.reserved || st.reserved < x.reserve) throw new Error(`stats(): committed ${st.committed}, reserved ${st.reserved}`);
        return;
      }
      case 'arenaClose': {
        const x = this.arena(op.a);
        if (x) this.closeArena(x);
        return;
      }
      case 'arenaHostile': {
        this.tally.hostile++;
        const bad = HOSTILE_NUMBERS[op.value % HOSTILE_NUMBERS.length];
        const x = this.arena(op.a) ?? this.arenas.find((y) => y.closed);
        const before = this.blocks.map((k) => k.view.byteLength).join();
        const r = op.ctor || !x
          ? this.attempt(() => new Arena(op.value % 2 ? (HOSTILE_OPTIONS[op.value % HOSTILE_OPTIONS.length] as object) : { reserve: bad as number }).close())
          : this.attempt(() => [() => x.arena.alloc(bad as number), () => x.arena.tryAlloc(page, bad as number), () => x.arena.allocZeroed(bad as number), () => x.arena.prefault(bad as number), () => x.arena.reset(bad as object)][op.value % 5]!());
        if (r === 'system') throw new Error(`hostile arena call with ${String(bad)} reached a system call`);
        // reset(options) takes any object without unknown own keys (a Date is an empty options object).
        const emptyOptions = op.value % 5 === 4 && typeof bad === 'object' && bad !== null && !Array.isArray(bad) && Object.keys(bad).length === 0;
        if (r === null && !x?.closed && !op.ctor && !emptyOptions) throw new Error(`hostile arena call with ${String(bad)} succeeded`);
        if (r === null && emptyOptions && x) for (const b of this.blocks) if (b.owner === x) b.state = 'dead';
        if (r !== null && this.blocks.map((k) => k.view.byteLength).join() !== before) throw new Error('a refused arena call changed a block');
        return;
      }
      case 'measure': {
        const x = this.pick(op.i);
        const bad = HOSTILE_NUMBERS[op.hostile % HOSTILE_NUMBERS.length];
        if (op.what === 0) {
          const r = rss();
          if (!(r.bytes > 0)) throw new Error('rss() is not positive');
          if (this.attempt(() => rss(bad as object)) === 'system') throw new Error('rss(hostile) reached a system call');
        } else if (op.what === 1 && x) {
          const r = residency(x.m);
          const count = x.m.residentPages();
          if (x.kind === 'anon' && this.residencyKnown(x) && r.source === 'mincore' && r.pages !== count) throw new Error('residency() and mincore disagree');
          const e = this.attempt(() => residency(x.m, bad as number));
          if (e === null || e === 'system') throw new Error(`residency(hostile ${String(bad)}) gave ${e}`);
        } else {
          const f = faults();
          if (!Number.isSafeInteger(f.minor) || f.minor < 0) throw new Error('faults().minor is not a count');
          if (this.attempt(() => faults(bad as object)) === 'system') throw new Error('faults(hostile) reached a system call');
        }
        return;
      }
      default:
        return;
    }
  }

  protected closeArena(x: ModelArena): void {
    x.arena.close();
    x.arena.close(); // idempotent
    x.closed = true;
    for (const b of this.blocks) if (b.owner === x) b.state = 'dead';
    // Every use of a closed arena is a state error.
    const r = this.attempt(() => x.arena.alloc(16));
    if (r !== 'state') throw new Error(`alloc on a closed arena gave ${r}`);
    this.arenas.splice(this.arenas.indexOf(x), 1);
  }

  /** Unmaps everything the model holds and closes its files. */
  dispose(): void {
    for (const x of [...this.arenas]) if (!x.closed) this.closeArena(x);
    for (const b of this.blocks) if (b.view.byteLength !== 0) throw new Error('a block of a closed arena still has a length');
    for (const x of [...this.live()]) {
      x.m.unmap();
      this.gone(x);
    }
  }
}
