/**
 * Arena: what the kernel holds, measured exactly (mincore over the committed
 * range, smaps of the reservation, /proc/meminfo Committed_AS).
 *
 * Every arena here uses `hugePages: false` (MADV_NOHUGEPAGE), so one touched
 * page is one resident base page whatever the THP mode.
 */
import { describe, expect, it } from 'vitest';
import { Arena, LARGE_BLOCK_BYTES } from '../lib/arena';
import { pageSize, hugePageSize } from '../lib/kernel/system';
import { readMeminfo } from '../lib/kernel/meminfo';
import { readSmaps } from '../lib/kernel/smaps';
import { readOvercommit } from '../lib/kernel/overcommit';
import { vmaNamesSupported } from '../lib/mapping';
import { adviceSupported } from '../lib/mapping/flags';
import { ifMeasurable, unmeasurable } from './helpers/emulation';
import { runChild } from './helpers/child';

const page = pageSize();
const MiB = 2 ** 20;
const GiB = 2 ** 30;

function arenaMappings(a: Arena, length: number) {
  const lo = a.address;
  const hi = lo + BigInt(length);
  return readSmaps().filter((e) => e.start < hi && e.end > lo);
}

/** Writes one byte in each of `pages` pages of `v`, starting at page `from`. */
function touch(v: Uint8Array, pages: number, from = 0): void {
  for (let i = 0; i < pages; i++) v[(from + i) * page] = 1;
}

describe('Arena: reservation costs nothing', () => {
  it('64 GiB reserved: nothing resident, no commit charge, one PROT_NONE mapping', (ctx) => {
    const mode = readOvercommit().overcommitMemory;
    if (mode === 2) {
      // MAP_NORESERVE is ignored under strict accounting: the reservation
      // itself is not charged (PROT_NONE), but this test is about mode 0/1.
      console.log('skipped: vm.overcommit_memory=2');
      ctx.skip();
    }
    const before = readMeminfo().Committed_AS!;
    using a = new Arena({ reserve: 64 * GiB, hugePages: false });
    const after = readMeminfo().Committed_AS!;
    // Committed_AS is system-wide: other processes (parallel test files)
    // move it by up to a few hundred MiB while we look. A charged 64 GiB
    // reservation would move it by 64 GiB; allow 4 GiB of noise.
    expect(after - before).toBeLessThan(4 * GiB);
    const s = a.stats();
    expect(s.reserved).toBe(64 * GiB);
    expect(s.committed).toBe(0);
    expect(s.resident).toBe(0);
    expect(s.mappings).toBe(1);
    const maps = arenaMappings(a, 64 * GiB);
    expect(maps.length).toBe(1);
    expect(maps[0]!.perms).toBe('---p');
    expect(maps[0]!.size).toBe(64 * GiB);
    expect(maps[0]!.rss).toBe(0);
    expect(maps[0]!.vmFlags).toContain('nr'); // VM_NORESERVE
    ifMeasurable('adviceFlags', 'VmFlags nh', () => expect(maps[0]!.vmFlags).toContain('nh')); // MADV_NOHUGEPAGE from hugePages: false
  });

  it('committing chunks does not charge a NORESERVE reservation (overcommit 0/1) and keeps two mappings', (ctx) => {
    if (readOvercommit().overcommitMemory === 2) ctx.skip();
    using a = new Arena({ reserve: 64 * GiB, chunkSize: 64 * MiB, hugePages: false });
    const before = readMeminfo().Committed_AS!;
    const blocks = [];
    for (let i = 0; i < 32; i++) blocks.push(a.alloc(64 * MiB)); // 32 chunks of 64 MiB: 2 GiB committed
    const s = a.stats();
    // Commits grow by up to half of what is committed (at most 1 GiB at once).
    expect(s.committed).toBeGreaterThanOrEqual(2 * GiB);
    expect(s.committed).toBeLessThanOrEqual(3 * GiB);
    expect(s.resident).toBe(0);
    // mprotect(PROT_WRITE) charges only mappings without VM_NORESERVE
    // (mm/mprotect.c); 2 GiB would show, noise stays well below it.
    expect(readMeminfo().Committed_AS! - before).toBeLessThan(GiB);
    // The committed chunks merged into one read-write VMA after the reserved rest.
    expect(s.mappings).toBe(2);
    const maps = arenaMappings(a, 64 * GiB);
    expect(maps.map((m) => m.perms)).toEqual(['rw-p', '---p']);
    expect(maps[0]!.size).toBe(s.committed);
  });

  it('names the reservation [anon:pagewise:NAME] where the kernel can', () => {
    using a = new Arena({ reserve: 16 * MiB, name: 'test-arena', hugePages: false });
    const maps = arenaMappings(a, 16 * MiB);
    if (!vmaNamesSupported()) {
      console.log('name assertion skipped: this kernel cannot name anonymous memory (PR_SET_VMA_ANON_NAME needs CONFIG_ANON_VMA_NAME)');
      expect(maps[0]!.anonName).toBeNull();
      return;
    }
    expect(maps[0]!.anonName).toBe('pagewise:test-arena');
  });
});

// stats().resident is mincore over the committed range: where mincore does not
// answer per page of this size (qemu-user with a guest page larger than the
// host's writes one byte per host page, past the vector), none of it can be measured.
describe.skipIf(unmeasurable('mincore', "Arena: resident pages (stats().resident is mincore)"))('Arena: resident pages, exactly', () => {
  it('grow by exactly the pages written', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
    const v = a.alloc(100 * page);
    expect(a.stats().resident).toBe(0); // committed, not touched
    touch(v, 37);
    expect(a.stats().resident).toBe(37 * page);
    for (let i = 0; i < 10; i++) v[50 * page + i * 2 * page] = 1; // every other page
    expect(a.stats().resident).toBe(47 * page);
    const small = a.alloc(64); // a new slab: one page touched by one write
    small.fill(1);
    expect(a.stats().resident).toBe(48 * page);
  });

  it('allocZeroed over fresh or purged pages writes nothing', () => {
    // retain: 0 gives a freed block's pages back at once.
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false, retain: 0 });
    const z = a.allocZeroed(LARGE_BLOCK_BYTES * 2);
    expect(z.every((b) => b === 0)).toBe(true); // reading a fresh page may fault it in: count after
    const readPages = a.stats().resident / page;
    a.free(z);
    expect(a.stats().resident).toBe(0);
    const z2 = a.allocZeroed(LARGE_BLOCK_BYTES * 2);
    expect(a.stats().resident).toBe(0);
    expect(z2.length).toBe(LARGE_BLOCK_BYTES * 2);
    // The read above faulted pages in only where this kernel has no shared zero page.
    expect([0, (LARGE_BLOCK_BYTES * 2) / page]).toContain(readPages);
  });

  it('a freed block is retained for reuse (dirty, resident) until purge(); with retain: 0 it goes back at once', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, hugePages: false, decay: false });
    const large = a.alloc(LARGE_BLOCK_BYTES);
    touch(large, LARGE_BLOCK_BYTES / page);
    const medium = a.alloc(10 * page);
    touch(medium, 3);
    expect(a.stats().resident).toBe(LARGE_BLOCK_BYTES + 3 * page);
    a.free(large);
    expect(large.length).toBe(0); // its own buffer is detached
    expect(a.stats().resident).toBe(LARGE_BLOCK_BYTES + 3 * page); // kept for reuse
    expect(a.stats().retained).toBe(LARGE_BLOCK_BYTES);
    a.free(medium);
    expect(a.stats().resident).toBe(LARGE_BLOCK_BYTES + 3 * page);
    expect(a.stats().retained).toBe(LARGE_BLOCK_BYTES + 10 * page);
    expect(a.purge()).toBe(LARGE_BLOCK_BYTES + 10 * page); // the pages handed out, advised
    expect(a.stats().resident).toBe(0);
    expect(a.stats().retained).toBe(0);
    expect(a.purge()).toBe(0); // nothing dirty is left

    using b = new Arena({ reserve: 64 * MiB, chunkSize: 4 * MiB, hugePages: false, retain: 0 });
    const l2 = b.alloc(LARGE_BLOCK_BYTES);
    touch(l2, LARGE_BLOCK_BYTES / page);
    const m2 = b.alloc(10 * page);
    touch(m2, 3);
    b.free(l2);
    expect(b.stats().resident).toBe(3 * page);
    b.free(m2);
    expect(b.stats().resident).toBe(0);
    expect(b.stats().retained).toBe(0);
  });

  it('purge() keeps live blocks and their contents', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
    const keep = a.alloc(5 * page).fill(7);
    const drop = a.alloc(8 * page).fill(9);
    a.free(drop);
    expect(a.stats().resident).toBe(13 * page);
    expect(a.purge()).toBe(8 * page);
    expect(a.stats().resident).toBe(5 * page);
    expect(keep.every((b) => b === 7)).toBe(true);
  });

  it('reset() brings the arena to exactly 0 resident pages and every view to length 0', () => {
    using a = new Arena({ reserve: 256 * MiB, chunkSize: 2 * MiB, hugePages: false });
    const views: Uint8Array[] = [];
    let written = 0;
    for (const size of [1, 64, 500, 3000, 8000, 5 * page + 3, 40 * page, LARGE_BLOCK_BYTES, 5 * MiB]) {
      for (let k = 0; k < 3; k++) {
        const v = a.alloc(size);
        v.fill(0x5a);
        views.push(v);
        written += size;
      }
    }
    expect(written).toBeGreaterThan(15 * MiB);
    const before = a.stats();
    expect(before.resident).toBeGreaterThanOrEqual(written - (written % page));
    a.reset();
    const after = a.stats();
    expect(after.resident).toBe(0);
    expect(after.committed).toBe(before.committed);
    expect(after.allocated).toBe(0);
    for (const v of views) expect(v.length).toBe(0);
    // The memory reads back as zero when handed out again.
    const again = a.alloc(5 * MiB);
    expect(again.every((b) => b === 0)).toBe(true);
  });

  it('reset with purge: "free" (MADV_FREE) keeps RSS until memory pressure', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false, purge: 'free' });
    a.alloc(10 * page).fill(1);
    a.reset();
    // MADV_FREE only marks the pages lazily freeable: they stay mapped (and
    // counted by mincore) until the kernel reclaims them under pressure.
    expect(a.stats().resident).toBe(10 * page);
  });

  it('prefault(bytes) commits and populates exactly that many pages', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
    console.log(`prefault via ${adviceSupported('populate_write') ? 'MADV_POPULATE_WRITE' : 'a touch loop (no MADV_POPULATE_WRITE)'}`);
    a.prefault(3 * MiB + 1);
    const s = a.stats();
    expect(s.committed).toBe(4 * MiB);
    ifMeasurable(adviceSupported('populate_write') ? ['populateWrite', 'mincore'] : ['mincore'], 'prefault residency', () => {
      expect(s.resident).toBe(3 * MiB + page);
      expect(s.threadFaults).toBeGreaterThanOrEqual((3 * MiB) / page + 1);
    });
    // Prefaulting keeps contents.
    const v = a.alloc(page).fill(3);
    a.prefault(MiB);
    expect(v.every((b) => b === 3)).toBe(true);
    expect(() => a.prefault(-1)).toThrow(RangeError);
    expect(() => a.prefault(65 * MiB)).toThrow(RangeError);
  });

  it('the prefault option populates each chunk as it is committed', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false, prefault: true });
    const populate = adviceSupported('populate_write') ? (['populateWrite', 'mincore'] as const) : (['mincore'] as const);
    a.alloc(16);
    ifMeasurable([...populate], 'prefault residency', () => expect(a.stats().resident).toBe(MiB));
    a.alloc(MiB + 1); // the free rest of the first chunk plus one more
    expect(a.stats().committed).toBe(2 * MiB);
    ifMeasurable([...populate], 'prefault residency', () => expect(a.stats().resident).toBe(2 * MiB));
  });

  it('hugePages: true aligns the arena to the THP size and advises MADV_HUGEPAGE', (ctx) => {
    const thp = hugePageSize();
    if (thp === null) {
      console.log('skipped: no transparent huge pages');
      ctx.skip();
      return;
    }
    using a = new Arena({ reserve: 64 * MiB, hugePages: true });
    expect(Number(a.address % BigInt(thp))).toBe(0);
    const v = a.alloc(thp);
    expect(Number(a.addressOf(v) % BigInt(thp))).toBe(0);
    const maps = arenaMappings(a, 64 * MiB);
    ifMeasurable('adviceFlags', 'VmFlags hg', () => { for (const m of maps) expect(m.vmFlags).toContain('hg'); });
    expect(() => new Arena({ hugePages: true, chunkSize: page })).toThrow(RangeError);
  });

  it('decommit returns the commit: nothing resident, one PROT_NONE mapping or read-write zero pages while a buffer may live', () => {
    using a = new Arena({ reserve: 64 * MiB, chunkSize: MiB, hugePages: false });
    a.alloc(5 * MiB).fill(1);
    expect(a.stats().mappings).toBe(2);
    a.reset({ decommit: true });
    const s = a.stats();
    expect(s.committed).toBe(0);
    expect(s.resident).toBe(0);
    const maps = arenaMappings(a, 64 * MiB);
    // The 5 MiB block's buffer was detached but its finalizer has not run:
    // the range may still be reachable through it, so it stays read-write
    // (fresh zero pages) instead of PROT_NONE (DESIGN.md, Safety).
    expect(maps.length).toBeLessThanOrEqual(2);
    for (const m of maps) expect(m.rss).toBe(0);
    for (const m of maps) expect(m.vmFlags).toContain('nr');
    ifMeasurable('adviceFlags', 'VmFlags nh', () => { for (const m of maps) expect(m.vmFlags).toContain('nh'); });
    a.alloc(10).fill(1);
    expect(a.stats().committed).toBe(MiB);
  });

  it('decommit once every buffer is finalized: one PROT_NONE mapping again', () => {
    const r = runChild(
      `const settle = async () => { for (let i = 0; i < 8; i++) { gc(); await new Promise((r) => setImmediate(r)); } };
      const lines = (a) => { const lo = a.address, hi = lo + ${64 * MiB}n; return require('fs').readFileSync('/proc/self/maps', 'utf8').trim().split('\\n').filter((l) => { const [s, e] = l.split(' ')[0].split('-').map((h) => BigInt('0x' + h)); return s < hi && e > lo; }).map((l) => l.split(/\\s+/)[1]); };
      (async () => {
        const a = new pw.Arena({ reserve: ${64 * MiB}, chunkSize: ${MiB}, hugePages: false });
        // In a function of its own: a suspended async function keeps its
        // dead temporaries (the last view) alive.
        const use = () => { for (const v of [a.alloc(${5 * MiB}), a.alloc(64), a.alloc(20000)]) v.fill(1); };
        use();
        a.reset();       // the arena drops its own buffers (detached)
        await settle();  // finalizers run
        a.reset({ decommit: true });
        const s = a.stats();
        console.log(JSON.stringify({ perms: lines(a), committed: s.committed, resident: s.resident }));
      })();`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ perms: ['---p'], committed: 0, resident: 0 });
  });
});
