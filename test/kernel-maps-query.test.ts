/**
 * queryMapping() and readMaps() by ioctl(PROCMAP_QUERY) (Linux 6.11+),
 * against the text of /proc/self/maps, and the fallback to the text.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kernelHas, mmap, pageSize, queryMapping, type Mapping } from '../lib/index';
import { parseMaps } from '../lib/kernel/maps';
import { readMaps, readMapsByQuery } from '../lib/kernel/maps-query';
import { runChildWithEnv } from './helpers/features';
import { ASAN, unlessSanitizer } from './helpers/sanitizer';

const page = pageSize();

describe('queryMapping (PROCMAP_QUERY, Linux 6.11+, or /proc/self/maps)', () => {
  it('agrees with /proc/self/maps for the binary, the stack and a mapping; null below the first mapping; next finds the first', () => {
    const m = mmap(4 * page);
    try {
      const maps = readMaps();
      const stack = maps.find((e) => e.pathname === '[stack]')!;
      for (const e of [maps[0]!, stack, maps.find((x) => x.start <= m.address && m.address < x.end)!]) {
        const q = queryMapping(e.start)!;
        expect({ start: q.start, end: q.end, perms: q.perms, inode: q.inode, dev: q.dev }).toEqual({ start: e.start, end: e.end, perms: e.perms, inode: e.inode, dev: e.dev });
        expect(q.name).toBe(e.anonName !== null ? `[anon:${e.anonName}]` : e.pathname);
      }
      expect(queryMapping(0n)).toBeNull();
      expect(queryMapping(0n, { next: true })!.start).toBe(maps[0]!.start);
      expect(queryMapping(m.address)!.source).toBe(kernelHas('procmapQuery') ? 'procmap_query' : 'maps');
    } finally {
      m.unmap();
    }
  });

  it('with the ioctl turned off it parses /proc/self/maps and answers the same', () => {
    const r = runChildWithEnv({ PAGEWISE_FORCE_MISSING: 'procmapQuery' }, `
      const q = pw.queryMapping(0n, { next: true }); console.log(JSON.stringify({ source: q.source, start: String(q.start), name: q.name }));
    `);
    const first = readMaps()[0]!;
    expect(r.out).toEqual({ source: 'maps', start: String(first.start), name: first.pathname });
  });
});

/** Mappings of every shape maps prints: a file at an offset, a deleted file, shared anonymous memory, protections split. */
function zoo(): { maps: Mapping[]; file: string; lo: bigint; hi: bigint; close(): void } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-maps-')), 'data');
  fs.writeFileSync(file, Buffer.alloc(4 * page, 1));
  const fd = fs.openSync(file, 'r+');
  const gone = `${file}-gone`;
  fs.writeFileSync(gone, Buffer.alloc(page, 2));
  const gfd = fs.openSync(gone, 'r');
  const maps = [mmap(2 * page, { file: { fd, offset: page } }), mmap(page, { file: { fd: gfd } }), mmap(3 * page, { shared: true }), mmap(8 * page)];
  fs.unlinkSync(gone);
  fs.closeSync(fd);
  fs.closeSync(gfd);
  maps[3]!.protect('r', 2 * page, 2 * page).protect('none', 6 * page, page);
  const lo = maps.reduce((a, m) => (m.address < a ? m.address : a), maps[0]!.address);
  const hi = maps.reduce((a, m) => (m.address + BigInt(m.length) > a ? m.address + BigInt(m.length) : a), 0n);
  return { maps, file, lo, hi, close: () => { for (const m of maps) m.unmap(); fs.rmSync(path.dirname(file), { recursive: true }); } };
}

const text = (): ReturnType<typeof parseMaps> => parseMaps(fs.readFileSync('/proc/self/maps', 'utf8'));

/** Identity of an entry, every field. */
const entryKey = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v));

/** Entries both texts list that the listing lacks, and listing entries neither text lists. */
function disagreements<T>(actual: T[], before: T[], after: T[]): { missing: T[]; unknown: T[]; stable: T[] } {
  const got = new Set(actual.map(entryKey));
  const was = new Set(before.map(entryKey));
  const now = new Set(after.map(entryKey));
  const stable = before.filter((e) => now.has(entryKey(e)));
  return { missing: stable.filter((e) => !got.has(entryKey(e))), unknown: actual.filter((e) => !was.has(entryKey(e)) && !now.has(entryKey(e))), stable };
}

/**
 * A listing read between two texts, the fewest-disagreeing of up to five
 * trials: V8's threads split a VMA and merge it back (a code-space
 * permission flip) between two reads of a loaded host, so one trial can
 * catch a transient shape that neither text shows. A wrong field in the
 * listing disagrees in every trial.
 */
function readBetween<T>(read: () => [T[], T[], T[]]): [T[], T[], T[]] {
  let best = read();
  for (let i = 1; i < 5; i++) {
    const d = disagreements(...best);
    if (d.missing.length + d.unknown.length === 0) break;
    const next = read();
    const n = disagreements(...next);
    if (n.missing.length + n.unknown.length < d.missing.length + d.unknown.length) best = next;
  }
  return best;
}

/**
 * A listing read entry by entry against the text read just before and just
 * after it, while other threads (V8's, the test runner's) map and unmap: every
 * entry the two texts agree on is in it, field for field, and each of its
 * entries is in one of the texts. Only an entry that changed both before and
 * after it was read could be neither, and a wrong field in any entry fails.
 */
function expectSameEntries<T>(actual: T[], before: T[], after: T[]): void {
  const { missing, unknown, stable } = disagreements(actual, before, after);
  expect(missing, 'entries both texts list, missing from the listing').toEqual([]);
  expect(unknown, 'entries in the listing that neither text lists').toEqual([]);
  expect(stable.length).toBeGreaterThan(0);
}

describe('readMaps() by PROCMAP_QUERY', () => {
  it.skipIf(!kernelHas('procmapQuery'))('lists the same entries as /proc/self/maps, field for field (ranges, perms, offsets, devices, inodes, names, deleted)', () => {
    const z = zoo();
    try {
      // Another thread (V8's) may map between two reads: the listing agrees with the texts read just before and after it.
      const [before, byQuery, after] = readBetween(() => {
        const b = text();
        const q = readMapsByQuery();
        return [b, q, text()];
      });
      unlessSanitizer('the whole listing agrees with the texts read just before and after', ASAN.maps, () => expectSameEntries(byQuery, before, after));
      // The zoo is all there, with the shapes maps prints.
      const mine = byQuery.filter((e) => e.start >= z.lo && e.end <= z.hi);
      expect(mine.find((e) => e.start === z.maps[0]!.address)).toMatchObject({ offset: BigInt(page), deleted: false, perms: 'rw-p', inode: fs.statSync(z.file).ino });
      expect(mine.find((e) => e.start === z.maps[1]!.address)).toMatchObject({ deleted: true, pathname: expect.stringMatching(/-gone$/) });
      expect(mine.find((e) => e.start === z.maps[2]!.address)).toMatchObject({ pathname: '/dev/zero', deleted: true, perms: 'rw-s' });
      // The VMAs inside the split mapping (its two ends may merge with neighbouring anonymous memory).
      const at = (k: number): string => { const e = mine.find((x) => x.start === z.maps[3]!.address + BigInt(k * page)); return e ? `${e.perms} ${e.size / page}` : 'none'; };
      expect([at(2), at(4), at(6)]).toEqual(['r--p 2', 'rw-p 2', '---p 1']);
      // A range: one query per mapping in it, exactly the text's entries there.
      const inRange = (l: ReturnType<typeof parseMaps>): ReturnType<typeof parseMaps> => l.filter((e) => e.end > z.lo && e.start < z.hi);
      const [before2, ranged, after2] = readBetween(() => {
        const b = inRange(text());
        const r = readMaps('self', { start: z.lo, end: z.hi });
        return [b, r, inRange(text())];
      });
      unlessSanitizer('the range agrees with the texts read just before and after', ASAN.mmapHole, () => {
        expectSameEntries(ranged, before2, after2);
        // Our own VMAs are all in it (the range may also hold other threads' mappings, which come and go).
        for (const m of z.maps.slice(0, 3)) expect(ranged.some((e) => e.start === m.address)).toBe(true);
        expect(ranged.filter((e) => e.start === z.maps[3]!.address + BigInt(2 * page) || e.start === z.maps[3]!.address + BigInt(6 * page)).map((e) => e.perms)).toEqual(['r--p', '---p']);
      });
    } finally {
      z.close();
    }
  });

  it('with the ioctl turned off, a range parses the text and gives the same entries', () => {
    const r = runChildWithEnv({ PAGEWISE_FORCE_MISSING: 'procmapQuery' }, `
      const P = pw.pageSize(); const m = pw.mmap(6 * P); m.protect('r', 2 * P, 2 * P);
      const lo = m.address, hi = m.address + BigInt(6 * P);
      const inRange = () => pw.parseMaps(require('fs').readFileSync('/proc/self/maps', 'utf8')).filter((e) => e.end > lo && e.start < hi);
      // Other threads map memory beside ours between the reads, and an outer VMA that merges with a neighbour
      // changes its bounds (and, merged from below, its offset): compare what lies inside [lo, hi), which is ours,
      // and the offset only of the read-only middle, which cannot merge.
      const clip = (e) => ({ start: e.start < lo ? lo : e.start, end: e.end > hi ? hi : e.end, perms: e.perms, dev: e.dev, inode: e.inode, pathname: e.pathname, offset: e.start === lo + BigInt(2 * P) ? e.offset : null });
      const key = (x) => JSON.stringify(x.map(clip), (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
      const before = key(inRange()); const got = pw.readMaps('self', { start: lo, end: hi }); const after = key(inRange());
      const inner = got.find((e) => e.start === lo + BigInt(2 * P));
      console.log(JSON.stringify({ has: pw.kernelHas('procmapQuery'), same: key(got) === before || key(got) === after, n: got.length, inner: inner.perms + inner.size / P, source: pw.queryMapping(lo).source, ...(key(got) === before || key(got) === after ? {} : { before, got: key(got), after }) }));
    `);
    // The outer VMAs may have merged with neighbouring anonymous memory; the read-only middle cannot.
    // On failure the three clipped listings are printed beside it.
    expect(r.out).toMatchObject({ has: false, same: true, n: 3, inner: 'r--p2', source: 'maps' });
  });

  it('checks its options before reading', () => {
    expect(() => readMaps('self', { start: 1 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => readMaps('self', { begin: 0n } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});
