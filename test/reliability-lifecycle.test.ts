/**
 * Lifecycle: mappings dropped without unmap are unmapped by their finalizers
 * (GC in a child with --expose-gc), explicit unmap leaves nothing, and worker
 * threads terminated mid-work leave none of their mappings behind. Each
 * mapping here has a size no one else uses (a prime number of pages), so
 * /proc/self/maps can be searched for it exactly.
 */
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pageSize } from '../lib/index';
import { runChild, DIST } from './helpers/child';

const page = pageSize();

/**
 * Adjacent anonymous mappings with equal flags merge into one VMA, so each
 * mapping here is made unmistakable: its first page PROT_NONE and its last
 * read-only. Its first page is then an exact one-page '---p' entry at its
 * address in /proc/self/maps, whatever lies around it.
 */
const PROBES = `
const fs = require('node:fs');
const page = pw.pageSize();
function marked(pages) {
  const m = pw.mmap(pages * page);
  m.protect('none', 0, page);
  m.protect('r', (pages - 1) * page, page);
  return m;
}
function guardStarts() {
  const out = new Set();
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) ---p/.exec(line);
    if (m && BigInt('0x' + m[2]) - BigInt('0x' + m[1]) === BigInt(page)) out.add(BigInt('0x' + m[1]));
  }
  return out;
}
function present(addresses) { const g = guardStarts(); let n = 0; for (const a of addresses) if (g.has(a)) n++; return n; }
function rssKb() { return Number(/^Rss:\\s+(\\d+) kB/m.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]); }
async function settle() { for (let i = 0; i < 12; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); } }
`;

describe('10,000 mappings', () => {
  it('dropped without unmap: the finalizers unmap every one (maps and RSS back at baseline)', () => {
    const r = runChild(
      `${PROBES}
      (async () => {
        await settle();
        const rssBefore = rssKb();
        const addresses = [];
        let peak = 0;
        // In a function of its own: a suspended async frame may keep its last
        // locals (the last mapping and view) reachable.
        const makeBatch = () => {
          for (let i = 0; i < 500; i++) {
            const m = marked(7);
            addresses.push(m.address);
            const v = m.view(page, 16);
            v[0] = i & 255;
            if (i % 3 === 0) m.view(2 * page, 8)[0] = 1; // a second buffer over the region
          }
        };
        for (let batch = 0; batch < 20; batch++) {
          makeBatch();
          if (batch === 0) peak = present(addresses);
        }
        // Finalizers run over several turns of the event loop (more on Node 22+,
        // where object and backing-store finalizers are queued apart): settle
        // until none is left, within a bound.
        for (let k = 0; k < 50 && present(addresses) > 0; k++) await settle();
        console.log(JSON.stringify({ made: addresses.length, peak, left: present(addresses), rssDeltaKb: rssKb() - rssBefore }));
      })();
    `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.signal).toBe(null);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { made: number; peak: number; left: number; rssDeltaKb: number };
    expect(out.made).toBe(10_000);
    expect(out.peak).toBeGreaterThan(0); // they existed (some may be collected already)
    expect(out.left).toBe(0);
    // Had even one touched page of each mapping stayed, RSS would be 10,000
    // pages up (V8's own heap growth is well below that).
    // (AddressSanitizer's quarantine holds freed heap memory: not under it.)
    if (!process.env.PAGEWISE_ASAN) expect(out.rssDeltaKb * 1024).toBeLessThan(10_000 * page);
  });

  it('explicit unmap: every one gone at once, and every view detached', () => {
    const r = runChild(`${PROBES}
      const addresses = [];
      let detached = 0, stale = 0, present1 = 0;
      for (let i = 0; i < 10000; i++) {
        const m = marked(11);
        addresses.push(m.address);
        const v = m.view(page, 16);
        v[0] = 1;
        if (i === 0) present1 = present(addresses);
        detached += m.unmap();
        if (v.byteLength !== 0) stale++;
        m.unmap();
      }
      console.log(JSON.stringify({ present1, left: present(addresses), detached, stale }));
    `);
    expect(r.signal).toBe(null);
    expect(JSON.parse(r.stdout)).toEqual({ present1: 1, left: 0, detached: 10_000, stale: 0 });
  });
});

/** Whether a one-page '---p' entry starts at `addr` (the mark of a mapping made by the worker below). */
function guardAt(maps: string, addr: bigint): boolean {
  return maps.includes(`${addr.toString(16)}-${(addr + BigInt(page)).toString(16)} ---p`);
}

describe('worker_threads terminated mid-work', () => {
  it('leave none of their mappings behind and crash nothing (20 workers, terminated inside a busy loop)', async () => {
    const PAGES = 13;
    const SLOTS = 1 << 12;
    const script = path.join(__dirname, 'fixtures', 'workers', 'terminate-busy.js');
    let made = 0;
    let leaked = 0;
    for (let w = 0; w < 20; w++) {
      const sab = new SharedArrayBuffer(8 * SLOTS);
      const slots = new BigInt64Array(sab);
      const worker = new Worker(script, { workerData: { dist: DIST, sab, pages: PAGES, slots: SLOTS } });
      const errors: Error[] = [];
      worker.on('error', (e) => errors.push(e));
      // Terminate once it has made a different number of mappings each time.
      const target = 50n + BigInt(w * 37);
      while (Atomics.load(slots, 0) < target) await new Promise((r) => setTimeout(r, 1));
      await worker.terminate();
      expect(errors).toEqual([]);
      const count = Number(Atomics.load(slots, 0));
      made += count;
      const maps = fs.readFileSync('/proc/self/maps', 'utf8');
      for (let k = 1; k <= Math.min(count, SLOTS - 1); k++) if (guardAt(maps, slots[k]!)) leaked++;
    }
    expect(made).toBeGreaterThan(20 * 50);
    expect(leaked).toBe(0);
  });
});
