/**
 * What an Electron user gets. Electron (and any Node built with the V8
 * memory sandbox) refuses external ArrayBuffers, which is how pagewise hands
 * out memory; Electron cannot be installed here, so the loader's switch
 * `PAGEWISE_SIMULATE_V8_SANDBOX=1` (lib/native/binding.ts) makes the functions that
 * create one throw what the native layer throws there
 * (`ERR_PAGEWISE_EXTERNAL_BUFFER`, native/region.cc). In a child process
 * with the switch: every call that needs no buffer works (mapping, advice,
 * protection, residency, locking, measurement, /proc, the arena's
 * reservation, commit and purge), every call that must hand out memory fails
 * with that error, and the process neither crashes nor keeps the unmapped range.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DIST } from './helpers/child';

const script = `
const pw = require(${JSON.stringify(DIST)});
const out = { works: {}, refused: {}, other: {} };
const call = (name, fn) => {
  try { fn(); out.works[name] = true; }
  catch (e) { if (e.code === 'ERR_PAGEWISE_EXTERNAL_BUFFER') out.refused[name] = /sandbox/.test(e.message); else out.other[name] = e.code + ': ' + e.message; }
};
const page = pw.pageSize();
let m;
call('mmap', () => { m = pw.mmap(4 * page, { noReserve: true }); });
call('Mapping.buffer', () => m.buffer);
call('Mapping.view', () => m.view(0, page));
call('unsafe.view', () => pw.unsafe.view(m));
call('advise', () => m.advise('dontneed'));
call('protect', () => { m.protect('r', 0, page); m.protect('rw'); });
call('residentPages', () => { if (m.residentPages() !== 0) throw new Error('resident'); });
call('residency', () => pw.residency(m, 0, m.length, { source: 'mincore' }));
call('lock', () => { m.lock(); m.unlock(); });
const addr = m && m.address;
call('unmap', () => m.unmap());
out.unmappedGone = !pw.findMapping(pw.readMaps(), addr);
call('rss', () => { pw.rss(); pw.rss({ exact: true }); });
call('faults', () => pw.faults());
call('measureSync', () => pw.measureSync(() => 1));
call('getrusage', () => pw.getrusage('thread'));
call('readers', () => { pw.readMaps(); pw.readStatus(); pw.readSmapsRollup(); });
let a;
call('new Arena', () => { a = new pw.Arena({ reserve: 2 ** 24, hugePages: false }); });
call('Arena.alloc small', () => a.alloc(64));
call('Arena.alloc medium', () => a.alloc(2 * page));
call('Arena.alloc large', () => a.alloc(2 ** 20));
call('Arena.tryAlloc', () => a.tryAlloc(64));
call('Arena.prefault', () => a.prefault(page));
call('Arena.stats', () => { if (a.stats().allocated !== 0) throw new Error('a refused alloc left a block'); });
call('Arena.purge', () => a.purge());
call('Arena.reset', () => a.reset());
call('Arena.close', () => a.close());
console.log(JSON.stringify(out));
`;

describe('under a (simulated) V8 memory sandbox, as in Electron', () => {
  it('calls that need no buffer work; calls that hand out memory fail with ERR_PAGEWISE_EXTERNAL_BUFFER', () => {
    const r = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      timeout: 600_000,
      env: { ...process.env, PAGEWISE_SIMULATE_V8_SANDBOX: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      works: Record<string, true>;
      refused: Record<string, boolean>;
      other: Record<string, string>;
      unmappedGone: boolean;
    };
    expect(out.other).toEqual({});
    expect(Object.keys(out.works).sort()).toEqual(
      ['mmap', 'advise', 'protect', 'residentPages', 'residency', 'lock', 'unmap', 'rss', 'faults', 'measureSync', 'getrusage', 'readers',
        'new Arena', 'Arena.prefault', 'Arena.stats', 'Arena.purge', 'Arena.reset', 'Arena.close'].sort(),
    );
    // Refused, each with a message naming the cause (the V8 memory sandbox).
    expect(out.refused).toEqual({
      'Mapping.buffer': true, 'Mapping.view': true, 'unsafe.view': true,
      'Arena.alloc small': true, 'Arena.alloc medium': true, 'Arena.alloc large': true, 'Arena.tryAlloc': true,
    });
    // The mapping is gone from /proc/self/maps after unmap (no buffer ever held it).
    expect(out.unmappedGone).toBe(true);
  });
});
