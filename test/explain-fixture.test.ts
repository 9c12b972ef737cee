/**
 * explain() on a fixture: a quiet Node child that allocates known amounts
 * step by step. Before each snapshot the test stops the child (SIGSTOP) so
 * smaps, smaps_rollup and the thread stack pointers are read from a process
 * that cannot change: the categories then add up to smaps_rollup's Rss
 * exactly, and each step's memory lands in its category, exactly where the
 * kernel's mappings say so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST } from './helpers/child';
import { sanitizerSkips } from './helpers/sanitizer';
import { explain, pageSize, readSmapsRollup, vmaNamesSupported, type ExplainSnapshot } from '../lib/index';

const MiB = 1024 * 1024;
const page = pageSize();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-explain-'));
const dataFile = path.join(tmp, 'data.bin');

/** Small buffers the child allocates in one step. */
const SMALL = 4000;

/** The child: runs each command it reads, answers `ok <json>`. */
const CHILD = `
const pw = require(${JSON.stringify(DIST)});
const { native } = require(${JSON.stringify(path.join(path.dirname(DIST), 'native', 'binding.js'))});
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');
const keep = [];
const page = pw.pageSize();
const steps = {
  ab() { keep.push(new Uint8Array(new ArrayBuffer(8 * 1024 * 1024)).fill(1)); return {}; },
  large() { keep.push(Buffer.allocUnsafeSlow(4 * 1024 * 1024).fill(2)); return {}; },
  small() {
    // malloc's own figures around the step: free bytes it already held may take some of the buffers.
    // And the program break: glibc grows [heap] with brk until a mapping above it is in the way, then maps
    // memory of its own for the main arena (anonymous, and it may merge with the mmapped chunks beside it).
    const before = native.mallinfo2();
    const brk0 = pw.programBreak();
    for (let i = 0; i < ${SMALL}; i++) keep.push(Buffer.allocUnsafeSlow(1024).fill(3));
    const after = native.mallinfo2();
    return { freeBefore: before.fordblks, inUse: after.uordblks - before.uordblks, mmapped: after.hblkhd - before.hblkhd, brk: Number(pw.programBreak() - brk0) };
  },
  async worker() {
    const w = new Worker('setInterval(() => {}, 1000)', { eval: true });
    keep.push(w);
    await new Promise((r) => w.once('online', r));
    return {};
  },
  mapping() {
    const m = pw.mmap(2 * 1024 * 1024, { name: 'pagewise:fixture' });
    m.view().fill(4);
    keep.push(m);
    return { named: m.label, address: '0x' + m.address.toString(16) };
  },
  arena() {
    const a = new pw.Arena();
    const v = a.alloc(1024 * 1024);
    v.fill(5);
    keep.push(a, v);
    return { resident: a.stats({ resident: true }).resident, address: '0x' + a.address.toString(16) };
  },
  file() {
    const fd = fs.openSync(process.argv[1], 'r');
    const m = pw.mmap(3 * 1024 * 1024, { file: { fd } });
    const v = m.view();
    let s = 0;
    for (let i = 0; i < v.length; i += page) s += v[i];
    keep.push(m);
    return { sum: s };
  },
};
require('node:readline').createInterface({ input: process.stdin }).on('line', async (line) => {
  const r = line === 'none' ? {} : await steps[line]();
  process.stdout.write('ok ' + JSON.stringify(r) + '\\n');
});
process.stdout.write('ok {}\\n');
`;

let child: ChildProcess;
let lines: AsyncIterator<string>;

/** Waits for the child's next `ok` line and returns its JSON. */
async function answer(): Promise<Record<string, unknown>> {
  for (;;) {
    const r = await lines.next();
    if (r.done) throw new Error('the fixture child exited');
    if (r.value.startsWith('ok ')) return JSON.parse(r.value.slice(3)) as Record<string, unknown>;
  }
}

/** The state letter of the child (`T` once SIGSTOP took effect). */
function state(pid: number): string {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
}

/** Every thread of the child stopped. */
async function stopped(pid: number): Promise<void> {
  for (;;) {
    const tids = fs.readdirSync(`/proc/${pid}/task`);
    if (tids.every((t) => {
      try {
        const s = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
        return s[s.lastIndexOf(')') + 2] === 't' || s[s.lastIndexOf(')') + 2] === 'T';
      } catch {
        return true;
      }
    }) && state(pid) === 'T') return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs a step in the child, stops it, takes a snapshot and the rollup, resumes it. */
async function step(name: string): Promise<{ snap: ExplainSnapshot; rollupRss: number; reply: Record<string, unknown> }> {
  child.stdin!.write(`${name}\n`);
  const reply = await answer();
  const pid = child.pid!;
  process.kill(pid, 'SIGSTOP');
  try {
    await stopped(pid);
    const snap = explain({ pid, detail: true });
    const rollupRss = readSmapsRollup(pid).rss;
    return { snap, rollupRss, reply };
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

const cat = (s: ExplainSnapshot, id: string): { rss: number; size: number; vmaCount: number } =>
  s.categories.find((c) => c.id === id) ?? { rss: 0, size: 0, vmaCount: 0 };

describe.skipIf(sanitizerSkips('explain fixture', 'the sanitizer runtime replaces glibc malloc (no main arena, arenas or chunk headers to attribute) and maps memory of its own'))('explain() on a stopped fixture child', () => {
  let prev: ExplainSnapshot;
  beforeAll(async () => {
    fs.writeFileSync(dataFile, Buffer.alloc(3 * MiB, 7));
    // A fixed mmap threshold: glibc otherwise raises it to the size of any mmapped
    // chunk the child frees (a GC at the wrong moment), and 4 MiB then comes from [heap].
    const tunables = [process.env.GLIBC_TUNABLES, 'glibc.malloc.mmap_threshold=131072'].filter(Boolean).join(':');
    child = spawn(process.execPath, ['-e', CHILD, dataFile], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, GLIBC_TUNABLES: tunables } });
    lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    await answer();
    prev = (await step('none')).snap;
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** After a step: the categories sum to smaps_rollup's Rss exactly; returns the change of each category. */
  async function run(name: string): Promise<{ d: (id: string) => { rss: number; size: number; vmaCount: number }; snap: ExplainSnapshot; reply: Record<string, unknown> }> {
    const { snap, rollupRss, reply } = await step(name);
    expect(snap.categories.reduce((t, c) => t + c.rss, 0)).toBe(rollupRss);
    expect(snap.totals.rss).toBe(rollupRss);
    expect(snap.totals.rollupRss).toBe(rollupRss);
    const before = prev;
    prev = snap;
    return {
      snap, reply,
      d: (id) => ({ rss: cat(snap, id).rss - cat(before, id).rss, size: cat(snap, id).size - cat(before, id).size, vmaCount: cat(snap, id).vmaCount - cat(before, id).vmaCount }),
    };
  }

  it('a snapshot of the idle child: a partition with unattributed last, page tables beside RSS', async () => {
    const { snap } = await run('none');
    expect(snap.categories[snap.categories.length - 1]!.id).toBe('unattributed');
    expect(snap.totals.pageTables).toBeGreaterThan(0);
    // Every VMA is in exactly one category.
    expect(snap.categories.filter((c) => c.source === 'vma').reduce((t, c) => t + c.vmaCount, 0)).toBe(snap.totals.vmas);
    const ids = snap.categories.map((c) => c.id);
    for (const id of ['code:' + fs.realpathSync(process.execPath), 'heap', 'main-stack', 'thread-stacks', 'v8-heap', 'object-data']) expect(ids).toContain(id);
    expect(ids.some((id) => /^code:.*libc\.so/.test(id))).toBe(true);
    expect(ids.some((id) => /^code:.*pagewise\.node$/.test(id))).toBe(true);
    // Another process reports no runtime statistics.
    expect(snap.runtime).toBeNull();
    expect(snap.breakdowns).toEqual([]);
  });

  it('an 8 MiB ArrayBuffer is one malloc mmapped chunk: +8 MiB + one page, exactly', async () => {
    const { d } = await run('ab');
    expect(d('malloc-mmapped').rss).toBe(8 * MiB + page);
  });

  it('Buffer.allocUnsafeSlow(4 MiB) is a malloc mmapped chunk: +4 MiB + one page, exactly', async () => {
    const { d } = await run('large');
    expect(d('malloc-mmapped').rss).toBe(4 * MiB + page);
  });

  it(`${SMALL} small Buffer.allocUnsafeSlow(1024) land in [heap] (malloc main arena) as far as brk grows it: no mmapped chunk, growth between what came into use less what malloc held free, and what came into use plus the top pad`, async () => {
    const { d, reply } = await run('small');
    const { freeBefore, inUse, mmapped, brk } = reply as { freeBefore: number; inUse: number; mmapped: number; brk: number };
    const why = `[heap] ${d('heap').rss} B more resident; malloc held ${freeBefore} B free before, ${inUse} B more in use, ${mmapped} B more mmapped; the break moved ${brk} B`;
    // None is a malloc mmapped chunk, by malloc's count.
    expect(mmapped, why).toBe(0);
    // Each is a 1040-byte chunk plus Node's backing-store record, all in malloc's arenas.
    expect(inUse, why).toBeGreaterThanOrEqual(SMALL * 1024);
    // [heap] grows by no more than what came into use, and glibc's M_TOP_PAD (128 KiB) beyond.
    expect(d('heap').rss, why).toBeLessThanOrEqual(inUse + 128 * 1024 + 2 * page);
    if (brk + freeBefore >= SMALL * 1024) {
      // brk had room: free chunks malloc already held (resident or not) take some, the rest grows [heap],
      // and the mmapped chunks' mappings are as they were.
      expect(d('heap').rss, why).toBeGreaterThanOrEqual(SMALL * 1024 - freeBefore - page);
      expect(d('malloc-mmapped').rss, why).toBe(0);
    } else {
      // A mapping above [heap] stopped brk (seen under load): [heap] grew by no more than the break moved,
      // and malloc's own mappings hold the rest.
      expect(d('heap').size, why).toBeLessThanOrEqual(brk + page);
    }
  });

  it('a worker adds one thread stack: its guard page and 4 MiB stack, exactly', async () => {
    const { d } = await run('worker');
    expect(d('thread-stacks').vmaCount).toBe(2);
    expect(d('thread-stacks').size).toBe(4 * MiB + page);
  });

  it('a pagewise mapping of 2 MiB, written: pagewise +2 MiB exactly where the kernel names memory, else one anonymous VMA of 2 MiB resident', async () => {
    const { d, reply, snap } = await run('mapping');
    const address = BigInt(reply.address as string);
    const vma = snap.vmas!.find((v) => v.start <= address && address < v.end)!;
    if (vmaNamesSupported()) {
      expect(reply.named).toBe('pagewise:fixture');
      expect(d('pagewise').rss).toBe(2 * MiB);
      expect(vma.category).toBe('pagewise');
    } else {
      // Unnamed and not in V8's address range: the anonymous pool, never V8's heap.
      expect(reply.named).toBeNull();
      expect(vma.category).toBe('anonymous');
      expect(vma.rss).toBeGreaterThanOrEqual(2 * MiB);
    }
  });

  it('an Arena: [anon:pagewise:arena] where the kernel names memory (pagewise grows by what the arena measures resident), else the anonymous pool', async () => {
    const { d, reply, snap } = await run('arena');
    expect(reply.resident).toBeGreaterThanOrEqual(MiB);
    if (vmaNamesSupported()) expect(d('pagewise').rss).toBe(reply.resident);
    else {
      // Unnamed: the arena's written VMA is in the anonymous pool with all it measured resident. (The pool's
      // change as a whole is no measure: other anonymous memory of the child may shrink between the snapshots.)
      const address = BigInt(reply.address as string);
      const vma = snap.vmas!.find((v) => v.start <= address && address < v.end && v.rss > 0) ?? snap.vmas!.find((v) => v.start >= address && v.rss > 0)!;
      expect(vma.category).toBe('anonymous');
      expect(vma.rss).toBeGreaterThanOrEqual(reply.resident as number);
    }
  });

  it('a 3 MiB file mapped and read: mapped files +3 MiB exactly', async () => {
    const { d, snap } = await run('file');
    expect(d('mapped-files').rss).toBe(3 * MiB);
    expect(snap.vmas!.some((v) => v.pathname === dataFile && v.category === 'mapped-files')).toBe(true);
  });
});
