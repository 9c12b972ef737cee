/**
 * Injected faults, each in a child process (never on the machine running the
 * tests): RLIMIT_DATA, RLIMIT_AS, RLIMIT_MEMLOCK and a full vm.max_map_count.
 * Each failure must be an Error with `code` and `syscall` (and the hint in the
 * message), never a crash, and every block allocated before must still verify
 * its checksum afterwards.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DIST } from './helpers/child';
import { ifMeasurable, unmeasurable } from './helpers/emulation';
import * as path from 'node:path';

const NATIVE = JSON.stringify(path.join(path.dirname(DIST), 'native', 'binding.js'));

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/**
 * Child prelude: `pw` is the package; blocks of mappings filled with a
 * pattern that depends on their index, and a verifier.
 */
const PRELUDE = `
const pw = require(${JSON.stringify(DIST)});
const { execFileSync } = require('node:child_process');
const page = pw.pageSize();
const out = { faults: 0, blocks: 0, verified: 0, lost: 0, errors: [] };
function pattern(i, len) {
  const b = Buffer.alloc(len);
  for (let k = 0; k < 251; k++) b[k] = (i * 131 + k * 7) & 255;
  let filled = 251;
  while (filled < len) { b.copy(b, filled, 0, Math.min(filled, len - filled)); filled *= 2; }
  return b;
}
const blocks = [];
function allocBlock(len, opts) {
  const m = pw.mmap(len, opts);
  const v = m.view();
  const p = pattern(blocks.length, len);
  v.set(p);
  // The view is kept: a view collected while its store's release is still
  // queued counts as escaped (DESIGN.md, Safety), and protect() would refuse.
  blocks.push({ m, v, len, i: blocks.length });
  out.blocks++;
  return m;
}
function verifyAll() {
  for (const b of blocks) {
    if (!b.m.mapped) continue;
    if (b.v.byteLength !== b.len) b.v = b.m.view(); // detached by unmap/resize: a new one, kept
    const ok = Buffer.compare(b.v, pattern(b.i, b.len)) === 0;
    if (ok) out.verified++; else out.lost++;
  }
}
function record(e) {
  out.faults++;
  out.errors.push({ name: e.name, code: e.code, syscall: e.syscall, errno: e.errno, hint: /ulimit|max_map_count|overcommit|RLIMIT/.test(e.message) });
}
function statusKb(key) { return Number(new RegExp('^' + key + ':\\\\s+(\\\\d+) kB', 'm').exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]); }
function limitSelf(resource, bytes) { execFileSync('prlimit', ['--pid', String(process.pid), '--' + resource + '=' + bytes + ':' + bytes]); }
`;

interface FaultResult {
  faults: number;
  blocks: number;
  verified: number;
  lost: number;
  errors: { name: string; code: string; syscall: string; errno: number; hint: boolean }[];
  [k: string]: unknown;
}

function runFault(body: string, options: { prefix?: string[]; nodeArgs?: string[]; env?: Record<string, string> } = {}): { r: ReturnType<typeof spawnSync>; out: FaultResult } {
  const script = `${PRELUDE}\n${body}\nverifyAll();\nconsole.log(JSON.stringify(out));`;
  const argv = [...(options.prefix ?? []), process.execPath, ...(options.nodeArgs ?? []), '-e', script];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30 * 60_000 /* a hang guard, not a time limit */, env: { ...process.env, ...options.env } });
  let out: FaultResult;
  try {
    out = JSON.parse(String(r.stdout).trim().split('\n').pop()!) as FaultResult;
  } catch {
    throw new Error(`child gave no result (status ${r.status}, signal ${r.signal}):\n${String(r.stdout)}\n${String(r.stderr)}`);
  }
  return { r, out };
}

/** Figures for docs/reliability.md: faults injected across this file. */
const tally = { faults: 0, verified: 0, lost: 0, crashes: 0 };
function count(res: { r: ReturnType<typeof spawnSync>; out: FaultResult }): void {
  tally.faults += res.out.faults;
  tally.verified += res.out.verified;
  tally.lost += res.out.lost;
  if (res.r.signal) tally.crashes++;
  if (process.env.PAGEWISE_TALLY_FILE) fs.writeFileSync(`${process.env.PAGEWISE_TALLY_FILE}.faults`, JSON.stringify(tally));
}

// The sanitizer runtime (npm run test:asan) reserves terabytes of shadow
// address space and maps memory of its own: resource exhaustion is not
// tested under it.
const asan = !!process.env.PAGEWISE_ASAN;

describe.runIf(have('prlimit') && !asan)('RLIMIT_DATA (private writable mappings count since Linux 4.7)', () => {
  // The limit is set from VmData; where that also counts an emulator's own
  // memory (qemu-user), the limit binds the emulator, which can then spin.
  it.skipIf(unmeasurable('ownAddressSpace', 'RLIMIT_DATA in a child'))('mmap and mprotect commit fail with ENOMEM; PROT_NONE reservations still work; blocks verify', () => {
    const res = runFault(`
      // 64 MiB above what Node uses now: 16 MiB of blocks fit, a 64 MiB
      // mapping does not, and V8 keeps room to grow its heap.
      limitSelf('data', (statusKb('VmData') + 64 * 1024) * 1024);
      const reservation = pw.mmap(1024 * 1024 * 1024, { prot: 'none', noReserve: true }); // not data: succeeds
      for (let i = 0; i < 16; i++) allocBlock(1024 * 1024);
      try { pw.mmap(64 * 1024 * 1024); } catch (e) { record(e); }
      try { reservation.protect('rw', 0, 64 * 1024 * 1024); out.committed = true; } catch (e) { record(e); }
      try { reservation.view(0, 8); out.viewOverFailedCommit = 'made'; } catch (e) { out.viewOverFailedCommit = e.code; }
      reservation.protect('rw', 0, 1024 * 1024); // a smaller commit fits
      reservation.view(0, 8)[0] = 1;
      out.reservation = reservation.protection(0) + ',' + reservation.protection(1024 * 1024);
    `);
    count(res);
    expect(res.r.signal).toBe(null);
    expect(res.out.errors).toEqual([
      { name: 'Error', code: 'ENOMEM', syscall: 'mmap', errno: -12, hint: true },
      { name: 'Error', code: 'ENOMEM', syscall: 'mprotect', errno: -12, hint: true },
    ]);
    expect(res.out.viewOverFailedCommit).toBe('ERR_INVALID_STATE');
    expect(res.out.reservation).toBe('rw,none');
    expect(res.out.blocks).toBe(16);
    expect(res.out.verified).toBe(16);
    expect(res.out.lost).toBe(0);
  });
});

describe.runIf(have('prlimit') && !asan)('RLIMIT_AS', () => {
  it.skipIf(unmeasurable('ownAddressSpace', 'RLIMIT_AS in a child'))('mmap and a NORESERVE reservation fail with ENOMEM; blocks verify', () => {
    const res = runFault(`
      limitSelf('as', (statusKb('VmSize') + 64 * 1024) * 1024);
      for (let i = 0; i < 16; i++) allocBlock(1024 * 1024);
      try { pw.mmap(64 * 1024 * 1024); } catch (e) { record(e); }
      try { pw.mmap(1024 * 1024 * 1024, { noReserve: true, prot: 'none' }); } catch (e) { record(e); }
    `);
    count(res);
    expect(res.r.signal).toBe(null);
    expect(res.out.errors).toEqual([
      { name: 'Error', code: 'ENOMEM', syscall: 'mmap', errno: -12, hint: true },
      { name: 'Error', code: 'ENOMEM', syscall: 'mmap', errno: -12, hint: true },
    ]);
    expect(res.out.blocks).toBe(16);
    expect(res.out.verified).toBe(16);
    expect(res.out.lost).toBe(0);
  });
});

describe('RLIMIT_MEMLOCK', () => {
  // Root (CAP_IPC_LOCK) is not limited: drop the capability where we hold it.
  const root = process.getuid?.() === 0;
  // AddressSanitizer intercepts mlock() and makes it a no-op: not testable under it.
  it.runIf((!root || have('setpriv')) && !asan)('mlock and mlock2(MLOCK_ONFAULT) past the limit fail cleanly; blocks verify', () => {
    const prefix = [...(root ? ['setpriv', '--inh-caps=-ipc_lock', '--bounding-set=-ipc_lock'] : []), 'sh', '-c', 'ulimit -l 64 && exec "$0" "$@"'];
    const res = runFault(`
      const small = allocBlock(page);
      small.lock();
      out.smallLocked = true;
      const big = allocBlock(64 * page);
      try { big.lock(); } catch (e) { record(e); }
      try { big.lock({ onFault: true }); } catch (e) { record(e); }
      small.unlock();
    `, { prefix });
    count(res);
    expect(res.r.signal).toBe(null);
    expect(res.out.smallLocked).toBe(true);
    expect(res.out.errors[0]).toEqual({ name: 'Error', code: 'ENOMEM', syscall: 'mlock', errno: -12, hint: true });
    ifMeasurable('mlock2', 'mlock2 past RLIMIT_MEMLOCK', () => expect(res.out.errors).toEqual([
      { name: 'Error', code: 'ENOMEM', syscall: 'mlock', errno: -12, hint: true },
      { name: 'Error', code: 'ENOMEM', syscall: 'mlock2', errno: -12, hint: true },
    ]));
    expect(res.out.verified).toBe(2);
    expect(res.out.lost).toBe(0);
  });
});

describe.skipIf(asan)('vm.max_map_count exhausted', () => {
  it('mmap and a splitting mprotect fail with ENOMEM and the hint; blocks verify; space comes back', () => {
    // With the map count full V8 itself dies if it needs a mapping (a JIT
    // zone, a GC thread's malloc arena): no background threads, no JIT.
    // Warm up first: everything that runs while the count is full is
    // compiled (lazy compilation allocates zones), and malloc keeps to brk.
    const res = runFault(`
      const { native } = require(${NATIVE});
      const C = native.constants;
      for (let i = 0; i < 8; i++) allocBlock(16 * page);
      // Warm-up: every path taken while the count is full runs once before.
      const warm = pw.mmap(2 * page);
      warm.protect('r', page, page);
      try { warm.view(page, 8); } catch (e) { out.warm = e.code; }
      try { pw.mmap(page, { file: { fd: 987654 } }); } catch (e) { out.warmErr = e.code; }
      warm.unmap();
      verifyAll(); out.verified = 0;
      let e1, e2, e3;
      const fill = [];
      for (let i = 0; ; i++) {
        try { fill.push(native.mmap(page, i % 2 ? C.PROT_READ : C.PROT_NONE, C.MAP_PRIVATE | C.MAP_ANONYMOUS, -1, 0, 0n, 0)); }
        catch (e) { e1 = e; break; }
      }
      try { pw.mmap(page); } catch (e) { e2 = e; }
      try { blocks[3].m.protect('r', 4 * page, page); } catch (e) { e3 = e; }
      try { blocks[3].m.view(4 * page, 8); out.viewAfter = 'made'; } catch (e) { out.viewAfter = e.code; }
      for (const f of fill.splice(0, 2000)) native.munmap(f);
      out.fillCode = e1.code;
      out.filled = fill.length + 2000;
      record(e2);
      record(e3);
      const again = pw.mmap(page); again.view()[0] = 1; again.unmap();
      blocks[3].m.protect('rw', 4 * page, page);
      for (const f of fill) native.munmap(f);
    `, { nodeArgs: ['--single-threaded', '--jitless'], env: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432' } });
    count(res);
    expect(res.r.signal).toBe(null);
    expect(res.out.fillCode).toBe('ENOMEM');
    expect(res.out.filled).toBeGreaterThan(1000);
    expect(res.out.errors).toEqual([
      { name: 'Error', code: 'ENOMEM', syscall: 'mmap', errno: -12, hint: true },
      { name: 'Error', code: 'ENOMEM', syscall: 'mprotect', errno: -12, hint: true },
    ]);
    // protect('r') failed before it changed anything (one VMA needed splitting),
    // but the model errs on the safe side: no view over the range.
    expect(res.out.viewAfter).toBe('ERR_INVALID_STATE');
    expect(res.out.verified).toBe(8);
    expect(res.out.lost).toBe(0);
  });
});
