/**
 * mmap() names anonymous private memory of 16 pages or more `[anon:pagewise]`
 * by default where the kernel names memory, so another process reading /proc/PID/maps sees it
 * as pagewise's; a name the caller gives wins, and file or shared memory
 * (which the kernel does not name this way) stays unnamed without an error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mmap, pageSize, readMaps, vmaNamesSupported, type Mapping } from '../lib/index';
import { DEFAULT_NAME_MIN_PAGES } from '../lib/mapping/functional';

function inMaps(m: Mapping): { pathname: string; anonName: string | null } {
  const e = readMaps('self').find((x) => x.start <= m.address && m.address < x.end);
  if (!e) throw new Error(`0x${m.address.toString(16)} not in /proc/self/maps`);
  return e;
}

const SKIP = 'this kernel cannot name anonymous memory (PR_SET_VMA_ANON_NAME needs Linux 5.17+ with CONFIG_ANON_VMA_NAME): mappings stay unnamed';

describe('the default name of anonymous mappings', () => {
  it('a fresh anonymous mapping is [anon:pagewise] in /proc/self/maps (from 16 pages; smaller ones stay unnamed)', () => {
    using m = mmap(DEFAULT_NAME_MIN_PAGES * pageSize());
    using small = mmap((DEFAULT_NAME_MIN_PAGES - 1) * pageSize());
    expect(small.label).toBeNull();
    expect(inMaps(small).anonName).toBeNull();
    if (!vmaNamesSupported()) {
      console.log(`skipped: ${SKIP}`);
      expect(m.label).toBeNull();
      expect(inMaps(m).anonName).toBeNull();
      return;
    }
    expect(m.label).toBe('pagewise');
    expect(inMaps(m).pathname).toBe('[anon:pagewise]');
    // A reservation too (PROT_NONE, MAP_NORESERVE).
    using r = mmap(64 * pageSize(), { prot: 'none', noReserve: true });
    expect(inMaps(r).anonName).toBe('pagewise');
  });

  it('a name the caller gives wins; name(null) clears the default', () => {
    using m = mmap(4 * pageSize(), { name: 'mine' }); // a given name applies at any size
    using n = mmap(DEFAULT_NAME_MIN_PAGES * pageSize());
    if (!vmaNamesSupported()) {
      console.log(`skipped: ${SKIP}`);
      expect([m.label, n.label]).toEqual([null, null]);
      return;
    }
    expect(m.label).toBe('mine');
    expect(inMaps(m).pathname).toBe('[anon:mine]');
    n.name(null);
    expect(n.label).toBeNull();
    expect(inMaps(n).anonName).toBeNull();
  });

  it('file and shared memory get no default name, and no error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-name-'));
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, Buffer.alloc(DEFAULT_NAME_MIN_PAGES * pageSize(), 1));
    const fd = fs.openSync(file, 'r+');
    try {
      using f = mmap(DEFAULT_NAME_MIN_PAGES * pageSize(), { file: { fd }, shared: true });
      using s = mmap(DEFAULT_NAME_MIN_PAGES * pageSize(), { shared: true });
      expect(f.label).toBeNull();
      expect(inMaps(f).pathname).toBe(file);
      expect(s.label).toBeNull();
      expect(inMaps(s).anonName).toBeNull();
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
