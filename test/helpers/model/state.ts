/** The model's state and the comparison of the whole model with the kernel. */
import * as fs from 'node:fs';
import { pageSize } from '../../../lib/index';
import { classify, newTally } from './tally';
import { readMaps } from './kernel';
import { writable, type ModelArena, type ModelBlock, type ModelMapping, type ModelView } from './ops';

const page = pageSize();

/** What the model holds, with the helpers every operation uses. */
export class ModelState {
  readonly arenas: ModelArena[] = [];
  readonly blocks: ModelBlock[] = [];
  readonly tally = newTally();
  readonly maps: ModelMapping[] = [];
  readonly views: ModelView[] = [];
  /** Buffers moved out of pagewise by transfer(): they keep the memory, unmapped or not. */
  readonly escaped: { u8: Uint8Array; owner: ModelMapping; off: number; len: number }[] = [];
  readonly dir: string;
  readonly residencyExact: boolean;
  protected nextId = 0;
  protected unmappedRanges: { start: bigint; end: bigint }[] = [];

  constructor(dir: string, residencyExact: boolean) {
    this.dir = dir;
    this.residencyExact = residencyExact;
  }

  protected live(): ModelMapping[] {
    return this.maps.filter((x) => x.mapped);
  }

  protected pick(i: number): ModelMapping | undefined {
    const live = this.live();
    return live.length ? live[i % live.length] : undefined;
  }

  /** Calls `fn`; returns the error class or null. Unexpected shapes throw. */
  protected attempt(fn: () => unknown): 'validation' | 'state' | 'system' | null {
    this.lastError = undefined;
    try {
      fn();
      return null;
    } catch (err) {
      this.lastError = err;
      const c = classify(err);
      if (c === 'validation') this.tally.validationErrors++;
      else if (c === 'state') this.tally.stateErrors++;
      else this.tally.systemErrors++;
      return c;
    }
  }

  /** The error of the last attempt() that failed, if the last one failed. */
  protected lastError: unknown;

  /**
   * Whether the last refusal was protect()/guard() finding a view collected
   * while its memory's release is still queued (V8 runs it after the GC, on a
   * later turn of the loop): pagewise cannot tell it from a transferred one
   * then, and refuses. The world's own checking views are dropped after each
   * step, so a GC between steps can make any range so for a moment.
   */
  protected pendingRelease(): boolean {
    const e = this.lastError as { code?: unknown; message?: unknown } | undefined;
    return e?.code === 'ERR_INVALID_STATE' && typeof e.message === 'string' && e.message.includes('release of its memory is still queued');
  }

  protected range(x: ModelMapping, p0: number, n: number): [number, number] {
    const start = p0 % (x.pages + 1);
    const count = Math.min(n, x.pages - start);
    return [start, count];
  }

  protected detach(x: ModelMapping, from: number, to: number): void {
    for (const v of this.views) if (v.owner === x && v.live && v.off < to && from < v.off + v.len) v.live = false;
    // A zero-length view at the edge of the range is detached too when it lies inside it.
    for (const v of this.views) if (v.owner === x && v.live && v.len === 0 && v.off >= from && v.off < to) v.live = false;
  }


  protected residencyKnown(x: ModelMapping): boolean {
    return this.residencyExact && x.kind === 'anon';
  }

  protected compareResidency(x: ModelMapping, s: number, n: number, got: (p: number) => boolean): void {
    if (!this.residencyKnown(x)) return;
    for (let p = s; p < s + n; p++) {
      const want = x.resident[p];
      if (want === null || want === undefined) continue;
      this.tally.residencyChecks++;
      if (got(p) !== want) throw new Error(`page ${p} of mapping ${x.id}: mincore says ${got(p)}, model ${want}`);
    }
  }

  protected writableBytes(x: ModelMapping, off: number, len: number): boolean {
    for (let p = Math.floor(off / page); p < Math.ceil((off + len) / page); p++) if (!writable(x.prot[p]!)) return false;
    return true;
  }

  protected gone(x: ModelMapping): void {
    x.mapped = false;
    this.detach(x, 0, x.pages * page);
    this.unmappedRanges.push({ start: x.m.address, end: x.m.address + BigInt(x.pages * page) });
    if (x.fd >= 0) fs.closeSync(x.fd);
    x.fd = -1;
    this.maps.splice(this.maps.indexOf(x), 1);
    for (let k = this.views.length - 1; k >= 0; k--) {
      const v = this.views[k]!;
      if (v.owner === x) {
        if (v.u8.byteLength !== 0) throw new Error('a view of an unmapped mapping still has a length');
        this.views.splice(k, 1);
      }
    }
  }

  protected snapshot(): string {
    return this.live()
      .map((x) => `${x.id}:${x.prot.join(',')}:${x.written.size}:${x.resident.join(',')}`)
      .join('|');
  }

  /** Compares the whole model with the kernel. */
  check(): void {
    const maps = readMaps();
    this.tally.mapsChecks++;
    for (const x of this.live()) {
      const start = x.m.address;
      for (let p = 0; p < x.pages; p++) {
        const a = start + BigInt(p * page);
        const e = maps.find((en) => en.start <= a && a < en.end);
        if (!e) throw new Error(`page ${p} of live mapping ${x.id} at 0x${a.toString(16)} is not in /proc/self/maps`);
        const want = x.prot[p];
        if (want === null || want === undefined) continue;
        const perms = `${want.includes('r') ? 'r' : '-'}${want.includes('w') ? 'w' : '-'}${want.includes('x') ? 'x' : '-'}`;
        if (e.perms.slice(0, 3) !== perms) throw new Error(`page ${p} of mapping ${x.id}: maps says ${e.perms}, model ${want}`);
        const sharing = x.kind === 'anonShared' || x.kind === 'fileShared' ? 's' : 'p';
        if (e.perms[3] !== sharing) throw new Error(`page ${p} of mapping ${x.id}: maps says ${e.perms}, model ${sharing}`);
      }
    }
    // Ranges unmapped since the last check are gone (unless something new
    // was mapped there since, which a live mapping of ours would show).
    for (const u of this.unmappedRanges) {
      const overlap = maps.find((e) => e.start < u.end && u.start < e.end);
      const reused = this.live().some((x) => x.m.address < u.end && u.start < x.m.address + BigInt(x.pages * page));
      // An unmapped range may stay as fresh anonymous rw-p zero pages while
      // an ArrayBuffer made over it is still reachable (DESIGN.md, Safety).
      const placeholder = overlap !== undefined && overlap.perms === 'rw-p';
      if (overlap && !reused && !placeholder && overlap.start === u.start && overlap.end === u.end) {
        throw new Error(`unmapped range 0x${u.start.toString(16)}-0x${u.end.toString(16)} is still in /proc/self/maps: ${JSON.stringify(overlap, (k, v) => (typeof v === "bigint" ? v.toString(16) : v))}`);
      }
    }
    this.unmappedRanges = [];
    for (const b of this.blocks) {
      this.tally.viewsChecked++;
      if (b.state === 'dead') {
        if (b.view.byteLength !== 0) throw new Error(`a ${b.size}-byte block of a reset/closed arena (or a freed large block) has length ${b.view.byteLength}`);
      } else if (b.state === 'live') {
        if (b.view.byteLength !== b.size) throw new Error(`a live ${b.size}-byte block has length ${b.view.byteLength}`);
        for (const k of b.size ? [0, b.size >> 1, b.size - 1] : []) {
          this.tally.bytesVerified++;
          if (b.view[k] !== b.byte) {
            this.tally.bytesLost++;
            throw new Error(`a live ${b.size}-byte block reads ${b.view[k]} at ${k}, filled with ${b.byte}`);
          }
        }
      }
    }
    for (const v of this.views) {
      this.tally.viewsChecked++;
      const want = v.live ? v.len : 0;
      if (v.u8.byteLength !== want) throw new Error(`view of mapping ${v.owner.id} has length ${v.u8.byteLength}, model ${want}`);
    }
    for (const x of this.live()) {
      if (this.residencyKnown(x)) {
        const vec = x.m.residencyVector();
        this.compareResidency(x, 0, x.pages, (p) => (vec[p]! & 1) === 1);
      }
      // Every byte the model knows reads back, through one view per writable run of pages.
      for (let p = 0; p < x.pages; ) {
        if (!writable(x.prot[p]!)) {
          p++;
          continue;
        }
        let q = p;
        while (q < x.pages && writable(x.prot[q]!)) q++;
        const u8 = x.m.view(p * page, (q - p) * page);
        for (let k = p; k < q; k++) {
          const base = x.base[k];
          const at = (k * 7) % page; // one probe byte per page
          const got = u8[(k - p) * page + at]; // the read faults the page in
          x.resident[k] = true;
          if (base !== null && base !== undefined) {
            this.tally.bytesVerified++;
            const want = x.written.get(k * page + at) ?? base;
            if (got !== want) {
              this.tally.bytesLost++;
              throw new Error(`mapping ${x.id} page ${k}: byte ${at} reads ${got}, model ${want}`);
            }
          }
        }
        for (const [o, b] of x.written) {
          if (o >= p * page && o < q * page) {
            this.tally.bytesVerified++;
            if (u8[o - p * page] !== b) {
              this.tally.bytesLost++;
              throw new Error(`mapping ${x.id} byte ${o}: reads ${u8[o - p * page]}, written ${b}`);
            }
          }
        }
        // The check view is detached at once so it cannot outlive a later protect.
        p = q;
      }
    }
  }

}
