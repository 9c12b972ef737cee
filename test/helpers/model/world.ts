/** The model's mapping operations: the class the tests drive. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Mapping, mmap, munmap, madvise, mprotect, mincore, pageSize, type Advice, type Prot } from '../../../lib/index';
import { ArenaOps } from './arena-ops';
import { classify } from './tally';
import { HOSTILE_NAMES, HOSTILE_NUMBERS, HOSTILE_OPTIONS, accessible, staleThings, writable, type ModelMapping, type Op } from './ops';

const page = pageSize();

/** Runs a sequence of operations against the kernel and the model. */
export class World extends ArenaOps {
  apply(op: Op): void {
    this.tally.operations++;
    switch (op.t) {
      case 'mmap':
        return this.mmap(op);
      case 'unmap': {
        const x = this.pick(op.i);
        if (!x) return;
        const expected = this.views.filter((v) => v.owner === x && v.live).length;
        const n = x.m.unmap();
        // Views the model let go of may not be collected yet: at least the ones it holds.
        if (n < expected) throw new Error(`unmap detached ${n} views, the model holds ${expected}`);
        if (x.m.unmap() !== 0) throw new Error('second unmap was not a no-op');
        this.gone(x);
        return;
      }
      case 'drop': {
        // Dropped without unmap: the finalizer unmaps once nothing refers to it.
        const x = this.pick(op.i);
        if (!x) return;
        x.mapped = false;
        const idx = this.maps.indexOf(x);
        this.maps.splice(idx, 1);
        for (let k = this.views.length - 1; k >= 0; k--) if (this.views[k]!.owner === x) this.views.splice(k, 1);
        if (x.fd >= 0) fs.closeSync(x.fd); // the mapping keeps the file itself alive
        return;
      }
      case 'view': {
        const x = this.pick(op.i);
        if (!x) return;
        const len = x.pages * page;
        const off = op.a % (len + 1);
        const vlen = op.b % (len - off + 1);
        const ok = this.writableBytes(x, off, vlen);
        const r = this.attempt(() => {
          const u8 = x.m.view(off, vlen);
          this.views.push({ u8, owner: x, off, len: vlen, live: true });
          if (this.views.length > 16) this.views.shift();
        });
        if (vlen === 0 && (r === null || r === 'state')) return;
        if (ok && r !== null) throw new Error(`view(${off}, ${vlen}) over writable memory failed`);
        if (!ok && r !== 'state') throw new Error(`view(${off}, ${vlen}) over unwritable memory gave ${r}`);
        return;
      }
      case 'buffer': {
        const x = this.pick(op.i);
        if (!x) return;
        const ok = this.writableBytes(x, 0, x.pages * page);
        const r = this.attempt(() => {
          const u8 = new Uint8Array(x.m.buffer);
          this.views.push({ u8, owner: x, off: 0, len: x.pages * page, live: true });
          if (this.views.length > 16) this.views.shift();
        });
        if (ok !== (r === null)) throw new Error(`buffer: writable=${ok} but ${r}`);
        return;
      }
      case 'write': {
        if (!this.views.length) return;
        const v = this.views[op.v % this.views.length]!;
        if (!v.live) {
          // A stale view: the write goes nowhere, and must not crash.
          v.u8[op.pos % (v.len + 1)] = op.byte;
          if (v.u8.byteLength !== 0) throw new Error('a detached view has a length');
          return;
        }
        if (v.len === 0) return;
        const at = op.pos % v.len;
        v.u8[at] = op.byte;
        const off = v.off + at;
        v.owner.written.set(off, op.byte);
        // A write makes its page present, whatever the model knew before.
        v.owner.resident[Math.floor(off / page)] = true;
        return;
      }
      case 'transfer': {
        if (!this.views.length || typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function') return;
        const v = this.views[op.v % this.views.length]!;
        if (!v.live || v.len === 0) return;
        const ab = v.u8.buffer as ArrayBuffer & { transfer(): ArrayBuffer };
        const start = v.off - v.u8.byteOffset;
        const t = ab.transfer();
        for (const w of this.views) if (w.u8.buffer === ab) w.live = false;
        this.escaped.push({ u8: new Uint8Array(t), owner: v.owner, off: start, len: t.byteLength });
        if (this.escaped.length > 8) this.escaped.shift();
        return;
      }
      case 'escapedWrite': {
        if (!this.escaped.length) return;
        const e = this.escaped[op.e % this.escaped.length]!;
        if (e.len === 0) return;
        const at = op.pos % e.len;
        // Mapped or not, the write lands in memory that stays valid: never a crash.
        e.u8[at] = op.byte;
        if (e.u8[at] !== op.byte) throw new Error('a transferred buffer lost a write');
        if (e.owner.mapped && this.maps.includes(e.owner)) {
          e.owner.written.set(e.off + at, op.byte);
          e.owner.resident[Math.floor((e.off + at) / page)] = true;
        }
        return;
      }
      case 'advise':
        return this.advise(op);
      case 'protect': {
        const x = this.pick(op.i);
        if (!x) return;
        const [s, n] = this.range(x, op.p0, op.n);
        const r = this.attempt(() => x.m.protect(op.prot, s * page, n * page));
        // Write access is never taken from memory a transferred buffer holds.
        const held = n > 0 && !writable(op.prot) && this.escaped.some((e) => e.owner === x && e.off < (s + n) * page && s * page < e.off + e.len);
        if (held) {
          if (r !== 'state') throw new Error(`protect(${op.prot}, ${s}, ${n}) over a transferred buffer gave ${r}`);
          return;
        }
        if (r === 'state' && n > 0 && !writable(op.prot) && this.pendingRelease()) return; // nothing changed
        if (r === 'validation' || r === 'state') throw new Error(`protect(${op.prot}, ${s}, ${n}) refused: ${r}`);
        if (!writable(op.prot)) this.detach(x, s * page, (s + n) * page);
        for (let p = s; p < s + n; p++) x.prot[p] = r === null ? op.prot : writable(op.prot) ? x.prot[p]! : null;
        return;
      }
      case 'resident': {
        const x = this.pick(op.i);
        if (!x) return;
        const [s, n] = this.range(x, op.p0, op.n);
        if (op.vector) {
          const vec = x.m.residencyVector(s * page, n * page);
          if (vec.length !== n) throw new Error(`residencyVector length ${vec.length}, expected ${n}`);
          this.compareResidency(x, s, n, (p) => (vec[p - s]! & 1) === 1);
        } else {
          const count = x.m.residentPages(s * page, n * page);
          const known = x.resident.slice(s, s + n);
          if (this.residencyKnown(x) && known.every((k) => k !== null)) {
            this.tally.residencyChecks++;
            const want = known.filter(Boolean).length;
            if (count !== want) throw new Error(`residentPages(${s}, ${n}) = ${count}, model ${want} (${x.kind})`);
          }
        }
        return;
      }
      case 'lock': {
        const x = this.pick(op.i);
        if (!x) return;
        const [s, n] = this.range(x, op.p0, op.n);
        const r = this.attempt(() => x.m.lock({ onFault: op.onFault }, s * page, n * page));
        if (r === 'validation' || r === 'state') throw new Error(`lock refused: ${r}`);
        for (let p = s; p < s + n; p++) {
          if (r !== null) x.resident[p] = null;
          else {
            x.locked[p] = true;
            // mlock populates every accessible page (exec-only: depends on the architecture).
            if (!op.onFault && accessible(x.prot[p]!)) x.resident[p] = x.prot[p] === 'x' ? null : true;
            if (!op.onFault && x.prot[p] === null) x.resident[p] = null;
          }
        }
        return;
      }
      case 'unlock': {
        const x = this.pick(op.i);
        if (!x) return;
        const [s, n] = this.range(x, op.p0, op.n);
        const r = this.attempt(() => x.m.unlock(s * page, n * page));
        if (r === 'validation' || r === 'state') throw new Error(`unlock refused: ${r}`);
        if (r === null) for (let p = s; p < s + n; p++) x.locked[p] = false;
        return;
      }
      case 'sync': {
        const x = this.pick(op.i);
        if (!x) return;
        const r = this.attempt(() => x.m.sync({ async: op.async, invalidate: op.invalidate }));
        if (r === 'validation' || r === 'state') throw new Error(`sync refused: ${r}`);
        return;
      }
      case 'name': {
        const x = this.pick(op.i);
        if (!x) return;
        const r = this.attempt(() => x.m.name(op.label));
        if (r === 'validation' || r === 'state') throw new Error(`name refused: ${r}`);
        return;
      }
      case 'hostile':
        return this.hostile(op);
      case 'stale':
        return this.stale(op);
      case 'check':
        return this.check();
      default:
        return this.arenaOp(op);
    }
  }


  protected mmap(op: Extract<Op, { t: 'mmap' }>): void {
    const len = op.pages * page;
    let fd = -1;
    let file: string | null = null;
    let fill = 0;
    if (op.kind === 'filePrivate' || op.kind === 'fileShared') {
      fill = 0x5a;
      file = path.join(this.dir, `f${this.nextId}.bin`);
      fs.writeFileSync(file, Buffer.alloc(len, fill));
      fd = fs.openSync(file, 'r+');
    }
    const shared = op.kind === 'anonShared' || op.kind === 'fileShared';
    let m: Mapping;
    try {
      m = mmap(len, { prot: op.prot, populate: op.populate, noReserve: op.noReserve, shared, ...(fd >= 0 ? { file: { fd } } : {}) });
    } catch (err) {
      if (fd >= 0) fs.closeSync(fd);
      if (classify(err) !== 'system') throw err;
      this.tally.systemErrors++;
      return;
    }
    this.tally.mappingsCreated++;
    const x: ModelMapping = {
      id: this.nextId++, m, kind: op.kind, pages: op.pages, prot: Array(op.pages).fill(op.prot), base: Array(op.pages).fill(fill),
      written: new Map(), resident: Array(op.pages).fill(op.prot === 'x' ? null : op.populate && op.prot !== 'none'), locked: Array(op.pages).fill(false), fd, file, mapped: true,
    };
    this.maps.push(x);
    // Keep the number of live mappings small: the oldest goes.
    if (this.live().length > 6) {
      const old = this.live()[0]!;
      old.m.unmap();
      this.gone(old);
    }
  }

  protected advise(op: Extract<Op, { t: 'advise' }>): void {
    const x = this.pick(op.i);
    if (!x) return;
    const [s, n] = this.range(x, op.p0, op.n);
    const r = this.attempt(() => x.m.advise(op.advice, s * page, n * page));
    if (r === 'validation' || r === 'state') throw new Error(`advise(${op.advice}) refused: ${r}`);
    const priv = x.kind === 'anon' || x.kind === 'filePrivate';
    for (let p = s; p < s + n; p++) {
      const drop = (): void => {
        for (let o = p * page; o < (p + 1) * page; o++) x.written.delete(o);
      };
      const unknown = (): void => {
        drop();
        x.base[p] = null;
      };
      switch (op.advice) {
        case 'dontneed':
          if (r === null) {
            if (priv) drop();
            x.resident[p] = false;
          } else if (priv) unknown();
          if (r !== null) x.resident[p] = null;
          break;
        case 'free':
          if (r === null || priv) unknown();
          x.resident[p] = null;
          break;
        case 'remove':
          if (r === null) {
            drop();
            x.base[p] = 0;
          } else if (!priv) unknown();
          x.resident[p] = null;
          break;
        case 'populate_read':
        case 'populate_write':
          x.resident[p] = r === null && x.resident[p] !== null ? true : null;
          break;
        case 'pageout':
        case 'cold':
        case 'collapse':
        case 'hugepage':
        case 'willneed':
          x.resident[p] = null;
          break;
        default:
          break;
      }
    }
  }

  protected hostile(op: Extract<Op, { t: 'hostile' }>): void {
    this.tally.hostile++;
    // Names go only where a name is taken (a name pool's 0 or 4 would be a
    // valid length elsewhere); objects go where options or numbers are taken.
    const takesName = ['advise', 'protect', 'name', 'mmap'].includes(op.method);
    const takesOptions = ['lock', 'sync', 'mmap'].includes(op.method);
    const pool = op.arg === 1 && takesName ? HOSTILE_NAMES : op.arg === 2 && takesOptions ? HOSTILE_OPTIONS : HOSTILE_NUMBERS;
    const bad = pool[op.value % pool.length];
    const x = this.pick(op.i);
    const m = x?.m ?? mmap(page);
    const before = this.snapshot();
    let r: 'validation' | 'state' | 'system' | null;
    switch (op.method) {
      case 'view':
        r = this.attempt(() => (op.arg === 2 ? m.view(0, bad as number) : m.view(bad as number)));
        break;
      case 'advise':
        r = this.attempt(() => (op.arg === 1 ? m.advise(bad as Advice) : op.arg === 2 ? m.advise('normal', 0, bad as number) : m.advise('normal', bad as number, page)));
        break;
      case 'protect':
        r = this.attempt(() => (op.arg === 1 ? m.protect(bad as Prot) : op.arg === 2 ? m.protect('rw', 0, bad as number) : m.protect('rw', bad as number)));
        break;
      case 'residentPages':
        r = this.attempt(() => m.residentPages(bad as number));
        break;
      case 'residencyVector':
        r = this.attempt(() => m.residencyVector(0, bad as number));
        break;
      case 'lock':
        r = this.attempt(() => (op.arg === 2 ? m.lock(bad as object) : m.lock(undefined, bad as number)));
        break;
      case 'unlock':
        r = this.attempt(() => m.unlock(bad as number));
        break;
      case 'sync':
        r = this.attempt(() => (op.arg === 2 ? m.sync(bad as object) : m.sync(undefined, 0, bad as number)));
        break;
      case 'name':
        r = this.attempt(() => m.name(bad as string));
        break;
      case 'mmap':
        r = this.attempt(() => {
          const made = op.arg === 2 ? mmap(page, bad as object) : op.arg === 1 ? mmap(page, { prot: bad as Prot }) : mmap(bad as number);
          made.unmap(); // a hostile value that turned out valid (a default): give it back
        });
        break;
      default:
        r = this.attempt(() => {
          const f = [() => munmap(bad as Mapping), () => madvise(bad as Mapping, 'normal'), () => mprotect(bad as Mapping, 'rw'), () => mincore(bad as Mapping)];
          f[op.value % f.length]!();
        });
        break;
    }
    if (!x) m.unmap();
    // Strings like '' or values like [] can be legitimate defaults only for
    // options; a hostile call either fails validation or, for the few valid
    // spellings in the pools (undefined, a real default), succeeds.
    // A label is a valid name argument: the kernel may refuse it (EINVAL without CONFIG_ANON_VMA_NAME).
    if (r === 'system' && op.method !== 'name') throw new Error(`hostile ${op.method}(${String(bad)}) reached a system call`);
    const after = this.snapshot();
    if (r !== null && before !== after) throw new Error(`hostile ${op.method} failed but changed the model`);
  }

  protected stale(op: Extract<Op, { t: 'stale' }>): void {
    this.tally.hostile++;
    const thing = staleThings()[op.which % 4] as Mapping;
    const calls: Record<string, () => unknown> = {
      view: () => thing.view(),
      advise: () => thing.advise('dontneed'),
      protect: () => thing.protect('rw'),
      residentPages: () => thing.residentPages(),
      residencyVector: () => thing.residencyVector(),
      lock: () => thing.lock(),
      unlock: () => thing.unlock(),
      sync: () => thing.sync(),
      name: () => thing.name('x'),
      mmap: () => mmap(page, { file: { fd: 2 ** 31 - 1 } }),
      functional: () => munmap(thing),
    };
    const r = this.attempt(calls[op.method] ?? calls.view!);
    if (r === 'system' && op.method !== 'mmap') throw new Error(`stale ${op.method} reached a system call`);
  }

}

/** Makes a scratch directory for file mappings. */
export function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-model-'));
}
