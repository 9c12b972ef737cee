/**
 * explain's pure parts on text captured from real kernels (and the
 * constructed arm64 64K fixture): the fast smaps parser agrees with
 * parseSmaps, the attribution partitions every capture (the categories add
 * up to the captured smaps_rollup Rss exactly), each rule on small texts
 * built from the documented formats, ELF program headers, and verdicts over
 * a series.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSmaps, parseSmapsRollup, ProcParseError } from '../lib/index';
import { entriesOfScan, parseSmapsBytes, parseSmapsBytesJs, parseSmapsFast } from '../lib/explain/smaps-fast';
import { SCAN_STRIDE } from '../lib/kernel/reader';
import { native } from '../lib/native/binding';
import { attribute } from '../lib/explain/attribute';
import { classify } from '../lib/explain/classify';
import { parseElfLoads } from '../lib/explain/elf';
import { verdicts } from '../lib/explain/verdict';
import type { ExplainSnapshot } from '../lib/explain/types';

const FIX = path.join(__dirname, 'fixtures', 'proc');
const read = (...p: string[]): string => fs.readFileSync(path.join(FIX, ...p), 'utf8');
const pageOf = (dir: string): number => Number(read(dir, 'PAGESIZE').trim());

/** The hand-built texts below are written as a 4 KiB-page x86-64 kernel writes them (their addresses and sizes). */
const TEXT_PAGE = 4 * 1024;

const SMAPS = ['x86_64-6.18', 'x86_64-6.18/explain-node', 'arm64-64k-constructed'];

describe('parseSmapsFast', () => {
  for (const dir of SMAPS) {
    it(`agrees with parseSmaps on ${dir}/smaps (maps line, Rss, Pss, Private, Swap, AnonHugePages, VmFlags)`, () => {
      const text = read(dir, 'smaps');
      const full = parseSmaps(text);
      const fast = parseSmapsFast(text);
      expect(fast.length).toBe(full.length);
      fast.forEach((e, i) => {
        const f = full[i]!;
        expect([e.start, e.end, e.perms, e.pathname, e.inode, e.anonName, e.rss, e.pss, e.swap, e.anonHugePages]).toEqual(
          [f.start, f.end, f.perms, f.pathname, f.inode, f.anonName, f.rss, f.pss, f.swap, f.anonHugePages]);
        expect(e.fields.Private_Clean).toBe(f.fields.Private_Clean);
        expect(e.fields.Private_Dirty).toBe(f.fields.Private_Dirty);
        expect(e.vmFlags).toEqual(f.vmFlags);
      });
    });
  }
  it('the native scan gives every entry the TypeScript parser gives, field for field, on every capture and a cut one', () => {
    for (const text of [...SMAPS.map((d) => read(d, 'smaps')), read('hostile', 'smaps-truncated')]) {
      const b = Buffer.from(text, 'latin1');
      const js = parseSmapsBytesJs(b);
      expect(js.length).toBeGreaterThan(0);
      expect(parseSmapsBytes(b)).toEqual(js);
      // A prefix ending inside a line: that cut line is dropped by both.
      const cut = Math.floor(b.length / 2);
      expect(parseSmapsBytes(b, cut)).toEqual(parseSmapsBytesJs(b, cut));
    }
    // Mapping lines of every kind the scan reads itself or leaves to mapsLineAt (a name byte >= 0x80, 16 hex digits).
    const lines = [
      '7f0000000000-7f0000001000 rw-s 00000000 103:02 4294967296               /dev/shm/a b (deleted)',
      '7f0000001000-7f0000002000 r-xp 00001000 00:00 0                          [anon:pagewise arena]',
      '7f0000002000-7f0000003000 ---p 00000000 00:00 0 ',
      '7f0000003000-7f0000004000 rw-p 00000000 fd:01 12                         /caf\u00e9',
      'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
    ];
    const text = lines.map((l, i) => `${l}\nRss:  ${4 * i} kB\nVmFlags: rd ${i % 2 ? 'gu' : 'wr'}\n`).join('');
    const b = Buffer.from(text, 'latin1');
    expect(parseSmapsBytes(b).map((e) => e.pathname)).toEqual(['/dev/shm/a b', '[anon:pagewise arena]', '', '/caf\u00e9', '[vsyscall]']);
    expect(parseSmapsBytes(b)).toEqual(parseSmapsBytesJs(b));
    // The only line, without its newline (read, not dropped), ending inside each field.
    for (const only of ['00400000-00401000 r--p 00000000 fe:00 1 /x', '00400000-00401000 r--p 00000000 fe:00 1', '00400000-00401000 r--p 00000000 fe:00', '00400000-00401000']) {
      const one = Buffer.from(only, 'latin1');
      let js: unknown;
      try {
        js = parseSmapsBytesJs(one);
      } catch (err) {
        js = err;
      }
      if (js instanceof Error) expect(() => parseSmapsBytes(one)).toThrow(ProcParseError);
      else expect(parseSmapsBytes(one)).toEqual(js);
    }
    // A CR in a name is no maps line for either.
    const cr = Buffer.from(`${lines[0]}\r\nRss: 4 kB\n`, 'latin1');
    expect(() => parseSmapsBytes(cr)).toThrow(ProcParseError);
  });

  it('the native read and scan of a file (64 KiB pieces, lines copied out) gives the same entries; -2 when its buffers are too small', () => {
    const files = [...SMAPS.map((d) => path.join(FIX, d, 'smaps')), path.join(FIX, 'hostile', 'smaps-truncated')];
    for (const file of files) {
      const fd = fs.openSync(file, 'r');
      try {
        const js = parseSmapsBytesJs(fs.readFileSync(file));
        const sizes = new Float64Array(2);
        const columns = new Float64Array(SCAN_STRIDE * (js.length + 1));
        const text = Buffer.alloc(fs.statSync(file).size);
        const n = native.smapsReadScan(fd, columns, text, sizes);
        expect(n).toBe(js.length);
        expect(sizes[0]).toBe(fs.statSync(file).size);
        expect(entriesOfScan({ count: n, columns, text })).toEqual(js);
        expect(native.smapsReadScan(fd, new Float64Array(SCAN_STRIDE), text, sizes)).toBe(js.length > 1 ? -2 : 1);
        expect(native.smapsReadScan(fd, columns, Buffer.alloc(16), sizes)).toBe(-2);
      } finally {
        fs.closeSync(fd);
      }
    }
    // Text it does not take (-1, for the parser's error) and a failed read (-3, a directory: EISDIR).
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-smaps-'));
    try {
      fs.writeFileSync(path.join(tmp, 'bad'), '00400000-00401000 r--p 00000000 fe:00 1 /x\nRss: lots\n');
      for (const [name, want] of [['bad', -1], ['.', -3]] as const) {
        const fd = fs.openSync(path.join(tmp, name), 'r');
        try {
          expect(native.smapsReadScan(fd, new Float64Array(SCAN_STRIDE * 4), Buffer.alloc(1024), new Float64Array(2))).toBe(want);
        } finally {
          fs.closeSync(fd);
        }
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('drops a cut last line as parseSmaps does, and throws ProcParseError on garbage', () => {
    const cut = read('hostile', 'smaps-truncated');
    expect(parseSmapsFast(cut).map((e) => e.rss)).toEqual(parseSmaps(cut).map((e) => e.rss));
    expect(() => parseSmapsFast('00400000-00401000 r--p 00000000 fe:00 1 /x\nRss: lots\n')).toThrow(ProcParseError);
    expect(() => parseSmapsFast('Rss: 4 kB\n')).toThrow(ProcParseError);
    expect(() => parseSmapsFast('')).toThrow(ProcParseError);
  });

  it('splits VmFlags on every JS white space as the text split does, and keeps the colon rule of other counters', () => {
    const head = '00400000-00401000 r--p 00000000 fe:00 1 /x\n';
    for (const flags of [' rd ex mr', '\trd\u000bex\u000cmr\u00a0mw  ', '', '   ', ' longflag x abcd abcde']) {
      const text = `${head}Rss:   4 kB\nVmFlags:${flags}\n`;
      if (flags.trim() !== '') expect(parseSmapsFast(text)[0]!.vmFlags).toEqual(parseSmaps(text)[0]!.vmFlags); // the text parser refuses an empty VmFlags line
      expect(parseSmapsFast(text)[0]!.vmFlags).toEqual(flags.trim().split(/\s+/).filter((f) => f !== ''));
    }
    expect(parseSmapsFast(`${head}Other_Counter: 1 kB\nRss: 8 kB\n`)[0]!.rss).toBe(8192);
    expect(() => parseSmapsFast(`${head}: 1 kB\n`)).toThrow(ProcParseError);
    expect(() => parseSmapsFast(`${head}no colon here\nRss: 4 kB\n`)).toThrow(ProcParseError);
  });
});

describe('attribution of captured processes', () => {
  it('a stopped Node process (x86_64, 4K): the categories add up to its smaps_rollup Rss exactly, each thread stack found', () => {
    const dir = 'x86_64-6.18/explain-node';
    const entries = parseSmapsFast(read(dir, 'smaps'));
    const rollup = parseSmapsRollup(read(dir, 'smaps_rollup'));
    const sps = read(dir, 'stack-pointers').trim().split('\n').map((s) => BigInt(s));
    const a = attribute(entries, { threadStackPointers: sps, pageSize: pageOf(dir) }, null, true);
    expect(a.categories.reduce((t, c) => t + c.rss, 0)).toBe(rollup.rss);
    expect(a.totals.rss).toBe(rollup.rss);
    expect(a.categories.reduce((t, c) => t + c.vmaCount, 0)).toBe(entries.length);
    // Every stack pointer lies in a VMA attributed to thread stacks, and each such stack has its guard.
    for (const sp of sps) expect(a.vmas!.find((v) => v.start <= sp && sp < v.end)!.category).toBe('thread-stacks');
    const stacks = a.vmas!.filter((v) => v.category === 'thread-stacks');
    expect(stacks.filter((v) => v.perms === '---p').length).toBe(stacks.filter((v) => v.perms === 'rw-p').length);
    const ids = a.categories.map((c) => c.id);
    for (const id of ['code:/usr/bin/node', 'heap', 'main-stack', 'malloc-arenas', 'v8-heap', 'object-data', 'kernel', 'unattributed']) expect(ids).toContain(id);
    // The 8 MiB and 4 MiB chunks are anonymous memory when the chunk headers cannot be read (no /proc/PID/mem here).
    expect(a.categories.find((c) => c.id === 'anonymous')!.rss).toBeGreaterThanOrEqual(12 * 1024 * 1024);
    expect(a.categories[a.categories.length - 1]!.id).toBe('unattributed');
  });

  it('the x86_64 capture of the capture script and the arm64 64K constructed one partition exactly too', () => {
    for (const dir of ['x86_64-6.18', 'arm64-64k-constructed']) {
      const entries = parseSmapsFast(read(dir, 'smaps'));
      const a = attribute(entries, { threadStackPointers: [], pageSize: pageOf(dir) }, null);
      expect(a.categories.reduce((t, c) => t + c.rss, 0)).toBe(entries.reduce((t, e) => t + e.rss, 0));
      expect(a.categories.some((c) => c.id === 'code:/usr/bin/node')).toBe(true);
    }
    // The constructed arm64 rollup is the sum of its entries (see the fixtures' README).
    const arm = 'arm64-64k-constructed';
    const a = attribute(parseSmapsFast(read(arm, 'smaps')), { threadStackPointers: [], pageSize: pageOf(arm) }, null);
    expect(a.totals.rss).toBe(parseSmapsRollup(read(arm, 'smaps_rollup')).rss);
  });
});

/** smaps text for one mapping with `rss` kB resident. */
function vma(range: string, perms: string, name = '', rssKb = 0, inode = 0): string {
  return `${range} ${perms} 00000000 ${inode ? 'fe:00' : '00:00'} ${inode} ${name}\nRss: ${rssKb} kB\nPss: ${rssKb} kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: ${rssKb} kB\nSwap: 0 kB\nAnonHugePages: 0 kB\n`;
}

describe('classification rules', () => {
  const rules = (text: string, hints: Partial<Parameters<typeof classify>[1]> = {}): string[] =>
    classify(parseSmapsFast(text), { threadStackPointers: [], pageSize: TEXT_PAGE, ...hints }).map((a) => a.id);

  it('glibc arena heaps: 64 MiB-aligned read-write then PROT_NONE to the boundary; anything else is not', () => {
    expect(rules(vma('7f0524000000-7f052408e000', 'rw-p') + vma('7f052408e000-7f0528000000', '---p'))).toEqual(['malloc-arenas', 'malloc-arenas']);
    expect(rules(vma('7f0524000000-7f0528000000', 'rw-p'))).toEqual(['malloc-arenas']);
    // Not on a boundary, or not reaching it.
    expect(rules(vma('7f0524001000-7f052408e000', 'rw-p') + vma('7f052408e000-7f0528000000', '---p'))).toEqual(['anonymous', 'anonymous']);
    expect(rules(vma('7f0524000000-7f052408e000', 'rw-p') + vma('7f052408e000-7f0527000000', '---p'))).toEqual(['anonymous', 'anonymous']);
    // An implausible heap_info header (V8's code range is 64 MiB-aligned too).
    const bad = (): { arena: bigint; size: number; mprotectSize: number } => ({ arena: 262144n, size: 196053024, mprotectSize: 1 });
    expect(rules(vma('7f0524000000-7f052408e000', 'rw-p') + vma('7f052408e000-7f0528000000', '---p'), { heapInfo: bad })).toEqual(['anonymous', 'anonymous']);
  });

  it('thread stacks: by a stack pointer (exact), or by the guard-page-then-stack shape; a guard before an arena heap is not one', () => {
    const text = vma('7f0559539000-7f055953a000', '---p') + vma('7f055953a000-7f0559d3a000', 'rw-p', '', 24);
    expect(rules(text, { threadStackPointers: [0x7f0559d38000n] })).toEqual(['thread-stacks', 'thread-stacks']);
    expect(classify(parseSmapsFast(text), { threadStackPointers: [], pageSize: TEXT_PAGE }).map((a) => a.rule)).toEqual(['guard page + stack shape', 'guard page + stack shape']);
    expect(rules(vma('7f0553fd2000-7f0554000000', '---p') + vma('7f0554000000-7f0554021000', 'rw-p') + vma('7f0554021000-7f0558000000', '---p')))
      .toEqual(['anonymous', 'malloc-arenas', 'malloc-arenas']);
  });

  it('names: pagewise, glibc decorate_maps, shared memory, kernel mappings; files: code per object, object data, mapped files', () => {
    expect(rules(vma('7f0000000000-7f0000100000', 'rw-p', '[anon:pagewise:arena]'))).toEqual(['pagewise']);
    expect(rules(vma('7f0000000000-7f0000100000', 'rw-p', '[anon: glibc: malloc arena]'))).toEqual(['malloc-arenas']);
    expect(rules(vma('7f0000000000-7f0000100000', 'rw-p', '[anon: glibc: malloc]'))).toEqual(['malloc-mmapped']);
    expect(rules(vma('7f0000000000-7f0000100000', 'rw-p', '[anon: glibc: pthread stack: 1234]'))).toEqual(['thread-stacks']);
    expect(rules(vma('7f0000000000-7f0000100000', 'rw-s', '/dev/shm/x', 0, 77) + vma('7f0000100000-7f0000200000', 'rw-s', '/dev/zero (deleted)', 0, 5))).toEqual(['shared', 'shared']);
    expect(rules(vma('7ffe3cf3b000-7ffe3cf3d000', 'r-xp', '[vdso]'))).toEqual(['kernel']);
    const lib = '/usr/lib/libx.so';
    expect(rules(
      vma('7f1000000000-7f1000001000', 'r--p', lib, 4, 9) + vma('7f1000001000-7f1000002000', 'r-xp', lib, 4, 9) +
      vma('7f1000002000-7f1000003000', 'rw-p', lib, 4, 9) + vma('7f1000003000-7f1000005000', 'rw-p', '', 8) + vma('7f1000010000-7f1000020000', 'r--p', '/data/file', 64, 10),
    )).toEqual([`code:${lib}`, `code:${lib}`, 'object-data', 'object-data', 'mapped-files']);
  });

  it('.bss: the anonymous mapping after an object\'s data only when it ends where the ELF program headers say', () => {
    const lib = '/usr/lib/liby.so';
    const text = vma('7f1000000000-7f1000001000', 'r-xp', lib, 4, 9) + vma('7f1000001000-7f1000002000', 'rw-p', lib, 4, 9) + vma('7f1000002000-7f1000004000', 'rw-p', '', 8);
    // p_vaddr 0 .. 0x3800 (memsz beyond the file): the .bss ends at base + 0x4000.
    expect(rules(text, { elfLoads: () => ({ firstVaddr: 0n, end: 0x3800n }) })[2]).toBe('object-data');
    // The kernel merged an mmap into it: the mapping ends past the .bss.
    expect(rules(text, { elfLoads: () => ({ firstVaddr: 0n, end: 0x2800n }) })[2]).toBe('anonymous');
  });

  it('V8 pages: 256 KiB-aligned anonymous read-write below V8\'s hint range, only in a Node process', () => {
    const text = vma('1384d380000-1384d3c0000', 'rw-p', '', 256) + vma('7f0000040000-7f0000240000', 'rw-p', '', 2048) + vma('1384d3c1000-1384d3c2000', 'rw-p', '', 4);
    expect(rules(text, { v8: true })).toEqual(['v8-heap', 'anonymous', 'anonymous']);
    expect(rules(text)).toEqual(['anonymous', 'anonymous', 'anonymous']);
    // Malloc chunk headers win over the shape.
    expect(rules(text, { v8: true, mallocChunks: (s) => s === 0x1384d380000n })).toEqual(['malloc-mmapped', 'anonymous', 'anonymous']);
  });

  it('pagewise\'s held ranges: a VMA inside their union is pagewise\'s (adjacent regions merged into one VMA, listed in any order, twice or nested); one reaching past them is not', () => {
    const text = vma('7f0000000000-7f0000004000', 'rw-p') + vma('7f0000004000-7f0000008000', 'rw-p') + vma('7f0000008000-7f0000010000', 'rw-p') + vma('7f0000020000-7f0000030000', 'rw-p');
    const r = (...n: bigint[]): BigUint64Array => BigUint64Array.from(n);
    // Two adjacent regions the kernel merged into the first VMA, listed out of order, one also held by a
    // worker and with a range nested in it; a third region is the second VMA.
    const held = r(0x7f0000004000n, 0x7f0000008000n, 0x7f0000002000n, 0x7f0000004000n, 0x7f0000000000n, 0x7f0000002000n, 0x7f0000000000n, 0x7f0000002000n, 0x7f0000001000n, 0x7f0000001800n);
    expect(rules(text, { pagewiseRanges: held })).toEqual(['pagewise', 'pagewise', 'anonymous', 'anonymous']);
    // A VMA that merged across a region's end stays with the anonymous pool.
    expect(rules(text, { pagewiseRanges: r(0x7f0000008000n, 0x7f000000c000n, 0x7f0000020000n, 0x7f0000030000n) })).toEqual(['anonymous', 'anonymous', 'anonymous', 'pagewise']);
    expect(rules(text, { pagewiseRanges: r() })).toEqual(['anonymous', 'anonymous', 'anonymous', 'anonymous']);
  });
});

describe('runtime split of the anonymous pool', () => {
  const text = vma('7f0000000000-7f0001000000', 'rw-p', '', 16384) + vma('7f0002000000-7f0002100000', 'rw-p', '', 1024);
  const rt = (hblkhd: number) => ({
    v8Spaces: [], arrayBuffers: 5 << 20, external: 0, heapUsed: 1 << 20, heapTotal: 2 << 20, time: 0,
    malloc: { arena: 0, ordblks: 0, hblks: 1, hblkhd, uordblks: 3 << 20, fordblks: 2 << 20, keepcost: 0 },
  });
  it('malloc mmapped chunks take their share, the rest is unattributed; the sum is unchanged; ArrayBuffers are a breakdown, not added', () => {
    const a = attribute(parseSmapsFast(text), { threadStackPointers: [], pageSize: TEXT_PAGE }, rt(8 << 20));
    const mm = a.categories.find((c) => c.id === 'malloc-mmapped')!;
    expect(mm.source).toBe('runtime');
    expect(mm.statistic).toBe('mallinfo2() hblkhd');
    expect(mm.rss).toBe(8 << 20);
    expect(a.categories.find((c) => c.id === 'unattributed')!.rss).toBe((17 << 20) - (8 << 20));
    expect(a.categories.reduce((t, c) => t + c.rss, 0)).toBe(17 << 20);
    expect(a.breakdowns.find((b) => b.id === 'array-buffers')!.bytes).toBe(5 << 20);
    expect(a.breakdowns.find((b) => b.id === 'malloc-in-use')!.bytes).toBe((3 << 20) + (8 << 20));
  });
  it('a statistic larger than the pool is capped at it and says so', () => {
    const a = attribute(parseSmapsFast(text), { threadStackPointers: [], pageSize: TEXT_PAGE }, rt(64 << 20));
    const mm = a.categories.find((c) => c.id === 'malloc-mmapped')!;
    expect(mm.rss).toBe(17 << 20);
    expect(mm.note).toMatch(/scaled/);
    expect(a.categories.find((c) => c.id === 'unattributed')!.rss).toBe(0);
  });
});

describe('ELF program headers', () => {
  it('the running node binary has PT_LOAD segments; other bytes are not ELF', () => {
    const fd = fs.openSync(process.execPath, 'r');
    const b = Buffer.alloc(65536);
    const n = fs.readSync(fd, b, 0, b.length, 0);
    fs.closeSync(fd);
    const loads = parseElfLoads(b.subarray(0, n))!;
    expect(loads.end).toBeGreaterThan(loads.firstVaddr);
    expect(parseElfLoads(Buffer.from('not an ELF file at all, not at all, not at all, not at all, ok'))).toBeNull();
  });
});

describe('verdicts', () => {
  const snap = (t: number, cats: Record<string, number>, bd: Record<string, number> = {}): ExplainSnapshot => ({
    pid: 1, time: t, pageSize: TEXT_PAGE, costMs: 0, runtime: null,
    totals: { rss: Object.values(cats).reduce((a, b) => a + b, 0), pss: 0, uss: 0, swap: 0, anonHuge: 0, pageTables: 0, rollupRss: 0, vmas: 0, sealedVmas: 0, sealedBytes: 0, guardPages: null, ksm: null },
    categories: Object.entries(cats).map(([id, rss]) => ({ id, kind: 'anonymous', label: id, rss, pss: 0, private: 0, swap: 0, anonHuge: 0, vmaCount: 1, size: 0, source: 'vma', estimate: false, evidence: {} })),
    breakdowns: Object.entries(bd).map(([id, bytes]) => ({ id: id as 'array-buffers', label: id, bytes, statistic: 's', within: [], estimate: true, note: '' })),
  });
  const MiB = 1 << 20;
  it('names what grows, by how much per minute (least squares), against what stays flat', () => {
    // 10 samples a second apart: malloc-mmapped and array-buffers +2 MiB/s, v8-heap flat.
    const series = Array.from({ length: 10 }, (_, i) => snap(i * 1000, { 'v8-heap': 50 * MiB, 'malloc-mmapped': 10 * MiB + i * 2 * MiB }, { 'array-buffers': 10 * MiB + i * 2 * MiB, 'v8-used': 30 * MiB }));
    const v = verdicts(series);
    const ab = v.find((x) => x.subject === 'array-buffers')!;
    expect(ab.kind).toBe('grows');
    expect(ab.perMinute).toBeCloseTo(120 * MiB, 0);
    expect(ab.change).toBe(18 * MiB);
    expect(ab.samples).toBe(10);
    expect(ab.seconds).toBe(9);
    expect(ab.flat.map((f) => f.id)).toContain('v8-heap');
    expect(ab.text).toMatch(/ArrayBuffer/);
    expect(ab.text).toMatch(/\+120\.0 MiB\/min/);
    expect(v.find((x) => x.subject === 'v8-heap')).toBeUndefined();
  });
  it('steady when nothing passes the threshold; none before 3 samples', () => {
    const series = Array.from({ length: 5 }, (_, i) => snap(i * 1000, { heap: 100 * MiB + (i % 2) * TEXT_PAGE }));
    expect(verdicts(series).map((v) => v.kind)).toEqual(['steady']);
    expect(verdicts(series.slice(0, 2))).toEqual([]);
  });
});
