/**
 * The parsers agree with the live kernel: smaps sums to smaps_rollup, a
 * mapping pagewise made is found in maps by address (and by [anon:NAME]
 * where the kernel can name memory), the live readers read each file once.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  mmap, pageSize, vmaNamesSupported, parseSmaps, parseSmapsRollup, readMaps, readSmaps, readSmapsRollup, readStatus,
  readStatm, readStat, readMeminfo, readVmstat, readThp, readOvercommit, findMapping, getrusage, hugePageSize, residency,
} from '../lib/index';
import { ifMeasurable } from './helpers/emulation';

const page = pageSize();

describe('live /proc/self', () => {
  it('the sum of Rss over smaps equals smaps_rollup Rss', () => {
    // Reading smaps with readFileSync would itself allocate (and fault) a
    // growing buffer while the kernel walks the mappings. So the files are
    // read with readSync into buffers allocated and touched beforehand:
    // smaps, then smaps_rollup, then smaps again. When both smaps walks agree
    // nothing moved in between and the rollup must equal their sum. Another
    // thread (V8's) can still fault or free a page meanwhile: retried, and
    // the attempts printed.
    const cap = 8 * 1024 * 1024;
    const bufs = [Buffer.alloc(cap, 1), Buffer.alloc(64 * 1024, 1), Buffer.alloc(cap, 1)];
    const lens = [0, 0, 0];
    const names = ['/proc/self/smaps', '/proc/self/smaps_rollup', '/proc/self/smaps'];
    const readAll = (i: number): void => {
      const fd = fs.openSync(names[i]!, 'r');
      let n = 0;
      for (let got = 1; got > 0; n += got) got = fs.readSync(fd, bufs[i]!, n, bufs[i]!.length - n, null);
      fs.closeSync(fd);
      lens[i] = n;
    };
    let sum = -1;
    let roll = -2;
    let tries = 0;
    for (; tries < 10 && sum !== roll; tries++) {
      readAll(0);
      readAll(1);
      readAll(2);
      const a = parseSmaps(bufs[0]!.toString('utf8', 0, lens[0])).reduce((t, e) => t + e.rss, 0);
      const c = parseSmaps(bufs[2]!.toString('utf8', 0, lens[2])).reduce((t, e) => t + e.rss, 0);
      roll = parseSmapsRollup(bufs[1]!.toString('utf8', 0, lens[1])).rss;
      sum = a === c ? a : -1;
    }
    if (tries > 1) console.log(`smaps vs smaps_rollup: equal after ${tries} attempts`);
    expect(sum).toBe(roll);
  });

  it('finds a pagewise mapping by address, with its size, perms and counters', () => {
    const m = mmap(16 * page);
    try {
      m.advise('nohugepage');
      m.view().fill(1, 0, 3 * page);
      const e = findMapping(readMaps(), m.address)!;
      expect(e).toBeDefined();
      expect(e.start <= m.address && m.address + BigInt(m.length) <= e.end).toBe(true);
      expect(e.perms).toBe('rw-p');
      expect(e.inode).toBe(0);
      const s = findMapping(readSmaps(), m.address)!;
      ifMeasurable('adviceFlags', 'VmFlags nh', () => expect(s.vmFlags).toContain('nh'));
      // MADV_NOHUGEPAGE also keeps the mapping a VMA of its own (no merge with a neighbour).
      ifMeasurable(['smapsRss', 'adviceFlags'], 'smaps Rss and Anonymous of this VMA', () => {
        expect(s.rss).toBe(3 * page);
        expect(s.anonymous).toBe(3 * page);
      });
      const r = residency(m);
      ifMeasurable(r.source === 'pagemap_scan' ? 'pagemapScan' : r.source === 'pagemap' ? 'pagemap' : 'mincore', `${r.source} count`, () => expect(r.pages).toBe(3));
    } finally {
      m.unmap();
    }
  });

  it('finds a named mapping by [anon:NAME] where the kernel can name memory', () => {
    if (!vmaNamesSupported()) {
      console.log('skipped [anon:NAME] lookup: PR_SET_VMA_ANON_NAME fails here (needs Linux 5.17+ with CONFIG_ANON_VMA_NAME)');
      return;
    }
    const m = mmap(4 * page, { name: 'pagewise-live-test' });
    try {
      const byName = readMaps().find((e) => e.anonName === 'pagewise-live-test')!;
      expect(byName.start).toBe(m.address);
      expect(byName.pathname).toBe('[anon:pagewise-live-test]');
    } finally {
      m.unmap();
    }
  });

  it('status, statm, stat agree on who we are and count our faults', () => {
    const status = readStatus();
    const stat = readStat();
    expect(status.pid).toBe(process.pid);
    expect(stat.pid).toBe(process.pid);
    expect(stat.comm.length).toBeGreaterThan(0);
    expect(readStatm().pageSize).toBe(page);
    // /proc/<pid>/task/<tid>/stat of the main thread (tid == pid) counts its faults.
    const before = readStat('self', process.pid).minflt;
    const ru = getrusage('thread').minorFaults;
    expect(before).toBeGreaterThan(0);
    expect(ru).toBeGreaterThanOrEqual(before);
  });

  it('meminfo, vmstat, THP, overcommit read live', () => {
    const m = readMeminfo();
    expect(m.MemTotal! % 1024).toBe(0);
    expect(typeof m.Committed_AS).toBe('number');
    expect(typeof m.CommitLimit).toBe('number');
    expect(readVmstat().pgfault).toBeGreaterThan(0);
    const t = readThp();
    expect(t.hpagePmdSize).toBe(hugePageSize());
    const o = readOvercommit();
    expect([0, 1, 2]).toContain(o.overcommitMemory);
    expect(o.maxMapCount).toBe(Number(fs.readFileSync('/proc/sys/vm/max_map_count', 'utf8')));
  });

  it('readers take a pid', () => {
    expect(readStatus(process.pid).pid).toBe(process.pid);
    expect(() => readStatus(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(readSmapsRollup(process.pid).rss).toBeGreaterThan(0);
  });
});
