// A suite of its own for runtimes that cannot run vitest's Node-specific
// harness (Bun, Deno): every public entry point of pagewise, reached through
// the runtime's own module systems (ESM `import` of the CommonJS build and
// `require()` via createRequire), on real memory. Plain JS, no test framework,
// so it runs unchanged on Node, Bun and Deno:
//
//   node test/runtimes/smoke.mjs
//   bun test/runtimes/smoke.mjs
//   deno run -A test/runtimes/smoke.mjs
//   PAGEWISE_SMOKE_DENO_LIMITED=1 deno run --allow-read --allow-env --allow-ffi \
//     --allow-write=/tmp test/runtimes/smoke.mjs
//
// Deno: loading the addon needs --allow-ffi (and --allow-read for the package
// files, --allow-env for the PAGEWISE_* variables the loader reads). Deno
// 1.43+ lets JS read /proc and /sys only with --allow-all, so with the narrow
// flags the /proc readers (and Arena#stats().mappings, read from /proc/self/maps)
// fail with Deno's own NotCapable error naming --allow-all; everything done
// natively (mincore, pagemap, smaps_rollup, statm, getrusage) works. The
// limited run (PAGEWISE_SMOKE_DENO_LIMITED=1) asserts exactly that.
// (--allow-write=/tmp only serves this suite's file-mapping check.)
//
// PAGEWISE_SMOKE_ROOT=<dir> loads the package from <dir> (an installed copy)
// instead of this checkout's dist/. Prints PASS/FAIL per check and
// "smoke <runtime>: N passed, N failed" last; exits non-zero on a failure.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.env.PAGEWISE_SMOKE_ROOT || path.resolve(here, '..', '..');
const entry = path.join(root, 'dist', 'lib', 'index.js');
const runtime =
  typeof globalThis.Bun !== 'undefined' ? `bun ${globalThis.Bun.version}` :
  typeof globalThis.Deno !== 'undefined' ? `deno ${globalThis.Deno.version.deno}` :
  `node ${process.version}`;

let passed = 0;
let failed = 0;
const check = async (name, fn) => {
  try {
    const detail = await fn();
    passed++;
    console.log(`PASS: ${name}${detail ? `: ${detail}` : ''}`);
  } catch (err) {
    failed++;
    console.log(`FAIL: ${name}: ${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}`);
  }
};
const assert = (cond, what) => {
  if (!cond) throw new Error(`expected ${what}`);
};
const throwsWith = (fn, want, what) => {
  try {
    fn();
  } catch (err) {
    for (const [k, v] of Object.entries(want)) {
      if (k === 'type' ? !(err instanceof v) : err[k] !== v) {
        throw new Error(`${what}: expected ${k}=${k === 'type' ? v.name : v}, got ${k === 'type' ? err?.constructor?.name : err[k]} (${err.message})`);
      }
    }
    return err;
  }
  throw new Error(`${what}: did not throw`);
};

// Under Deno with narrow flags, reading /proc from JS must fail with Deno's
// error naming --allow-all (see the header); elsewhere it must work.
const denoLimited = process.env.PAGEWISE_SMOKE_DENO_LIMITED === '1';
const procFromJs = (fn, what) => {
  if (!denoLimited) return fn();
  const err = throwsWith(fn, { name: 'NotCapable' }, `${what} under Deno without --allow-all`);
  assert(/--allow-all/.test(err.message), `Deno's error to name --allow-all: ${err.message}`);
  return undefined;
};

console.log(`smoke: ${runtime} on ${process.platform}-${process.arch}, package at ${root}`);

// Module systems: ESM import of the CommonJS build, and require().
let esm;
let cjs;
await check('ESM import of the package entry', async () => {
  esm = await import(pathToFileURL(entry).href);
  assert(typeof esm.mmap === 'function', 'a named export mmap from ESM');
  return `${Object.keys(esm).length} exports`;
});
await check('require() of the package entry', () => {
  cjs = createRequire(import.meta.url)(entry);
  assert(typeof cjs.mmap === 'function', 'mmap from require()');
  assert(typeof cjs.Arena === 'function', 'Arena from require()');
});
if (!esm && !cjs) {
  console.log(`smoke ${runtime.split(' ')[0]}: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}
const pw = cjs ?? esm;
await check('the subpath modules load (experiments, bench)', async () => {
  const req = createRequire(import.meta.url);
  const ex = req(path.join(root, 'dist', 'lib', 'experiments', 'index.js'));
  const bench = await import(pathToFileURL(path.join(root, 'dist', 'lib', 'bench', 'index.js')).href);
  assert(Array.isArray(ex.experiments) && ex.experiments.length > 0, 'a list of experiments');
  assert(Array.isArray(bench.benchmarks ?? bench.default?.benchmarks), 'a list of benchmarks');
  return `${ex.experiments.length} experiments`;
});

const page = pw.pageSize();
await check('pageSize() from the kernel', () => {
  assert([4096, 16384, 65536].includes(page), `a page size of 4K/16K/64K, got ${page}`);
  const thp = pw.hugePageSize();
  assert(thp === null || thp % page === 0, 'THP size a multiple of the page size');
  assert(pw.maxArrayBufferLength() >= 2 ** 31, 'maxArrayBufferLength() >= 2 GiB');
  return `page ${page}, THP ${thp}, max ArrayBuffer ${pw.maxArrayBufferLength()}`;
});

await check('mmap, view, residentPages (mincore), unmap', () => {
  const m = pw.mmap(4 * page);
  assert(m.length === 4 * page && typeof m.address === 'bigint' && m.address % BigInt(page) === 0n, 'a page-aligned mapping');
  const v = m.view();
  assert(v.byteLength === 4 * page && v[0] === 0, 'a zeroed view of the whole mapping');
  v[0] = 7;
  v[3 * page] = 9;
  assert(m.residentPages() === 2, `2 resident pages, got ${m.residentPages()}`);
  assert(pw.mincore(m).length === 4, 'a mincore vector of 4 entries');
  assert(m.buffer.byteLength === 4 * page && new Uint8Array(m.buffer)[3 * page] === 9, 'the buffer sees the view');
  const w = m.view(page, page);
  w[1] = 5;
  assert(v[page + 1] === 5, 'a window shares memory with the view');
  m.unmap();
  assert(v.byteLength === 0 && w.byteLength === 0, 'every view reads as length 0 after unmap');
  m.unmap(); // a second unmap does nothing
  throwsWith(() => m.view(), { type: TypeError, code: 'ERR_INVALID_STATE' }, 'view after unmap');
});

await check('advise: dontneed gives pages back, they read as zero', () => {
  const m = pw.mmap(8 * page, { noReserve: true });
  const v = m.view();
  for (let i = 0; i < 8; i++) v[i * page] = 1;
  assert(m.residentPages() === 8, '8 resident pages');
  m.advise('dontneed', 2 * page, 4 * page);
  pw.madvise(m, 'nohugepage');
  assert(v[2 * page] === 0 && v[7 * page] === 1, 'purged pages read as zero, others keep their bytes');
  pw.munmap(m);
});

await check('protect: none then rw; buffers over a read-only range are refused', () => {
  const m = pw.mmap(2 * page);
  const v = m.view();
  v[0] = 3;
  m.protect('none', page, page);
  assert(v.byteLength === 0, 'the view over the protected range is detached');
  throwsWith(() => m.view(page, page), { type: TypeError, code: 'ERR_INVALID_STATE' }, 'view of PROT_NONE');
  m.protect('rw');
  pw.mprotect(m, 'rw', 0, page);
  assert(m.view()[0] === 3, 'bytes kept across protection changes');
  m.unmap();
});

await check('errors: bad arguments and a failed system call', () => {
  throwsWith(() => pw.mmap('64'), { type: TypeError, code: 'ERR_INVALID_ARG_TYPE' }, 'mmap("64")');
  throwsWith(() => pw.mmap(-1), { type: RangeError, code: 'ERR_OUT_OF_RANGE' }, 'mmap(-1)');
  const m = pw.mmap(page);
  const err = throwsWith(() => pw.mmap(page, { address: m.address }), { code: 'EEXIST', syscall: 'mmap' }, 'mmap over an occupied address');
  m.unmap();
  return `${err.code} from ${err.syscall}`;
});

await check('Symbol.dispose on Mapping and Arena', () => {
  if (typeof Symbol.dispose !== 'symbol') return 'no Symbol.dispose in this runtime';
  const m = pw.mmap(page);
  m[Symbol.dispose]();
  assert(m.mapped === false, 'disposed mapping is unmapped');
  const a = new pw.Arena({ reserve: 16 * 2 ** 20 });
  a[Symbol.dispose]();
  return 'both dispose';
});

await check('file mapping: msync', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const file = path.join(os.tmpdir(), `pagewise-smoke-${process.pid}`);
  fs.writeFileSync(file, Buffer.alloc(page));
  const fd = fs.openSync(file, 'r+');
  try {
    const m = pw.mmap(page, { shared: true, file: { fd } });
    m.view()[0] = 0x41;
    m.sync();
    pw.msync(m, { async: true });
    m.unmap();
  } finally {
    fs.closeSync(fd);
  }
  const first = fs.readFileSync(file)[0];
  fs.unlinkSync(file);
  assert(first === 0x41, 'the write reached the file');
});

await check('Arena: alloc, free, allocZeroed, stats, reset, close', () => {
  const a = new pw.Arena({ reserve: 64 * 2 ** 20, chunkSize: 16 * page, hugePages: false });
  const x = a.alloc(64);
  x.fill(1);
  const big = a.allocZeroed(300 * 1024);
  assert(big.byteLength === 300 * 1024 && big[1000] === 0, 'a zeroed large block');
  const y = a.tryAlloc(4 * page);
  assert(y && y.byteLength === 4 * page, 'tryAlloc returns a view');
  assert(typeof a.addressOf(x) === 'bigint', 'addressOf a bigint');
  a.free(x);
  throwsWith(() => a.free(x), { type: TypeError, code: 'ERR_INVALID_ARG_VALUE' }, 'double free');
  a.free(big);
  assert(big.byteLength === 0, 'a freed large block is detached');
  const s = a.stats();
  assert(s.reserved >= 64 * 2 ** 20 && s.committed > 0 && typeof s.resident === 'number', 'stats with reserved, committed, resident (mincore)');
  // `mappings` is read from /proc/self/maps (in JS) when first read.
  const mappings = procFromJs(() => s.mappings, 'Arena#stats().mappings (reads /proc/self/maps)');
  if (!denoLimited) assert(mappings >= 1, `the reservation's mappings, got ${mappings}`);
  a.purge();
  a.reset();
  assert(y.byteLength === 0, 'reset detaches every view');
  const after = a.stats();
  assert(after.resident === 0, `resident 0 after reset, got ${after.resident}`);
  a.close();
  throwsWith(() => a.alloc(1), { type: TypeError, code: 'ERR_INVALID_STATE' }, 'alloc after close');
  return `committed ${s.committed}${denoLimited ? '; stats().mappings refused by Deno without --allow-all, as expected' : `, ${mappings} mappings`}`;
});

await check('measurement: rss, residency (mincore, pagemap), faults, measureSync, getrusage', () => {
  const fast = pw.rss();
  const exact = pw.rss({ exact: true });
  assert(fast.source === 'statm' && exact.source === 'smaps_rollup' && exact.bytes > 0, 'rss from statm and smaps_rollup');
  const m = pw.mmap(16 * page, { noReserve: true });
  m.advise('nohugepage');
  const r = pw.measureSync(() => {
    const v = m.view();
    for (let i = 0; i < 5; i++) v[i * page] = 1;
  }, { mappings: [m] });
  assert(r.threadFaults.minor >= 5, `at least 5 minor faults on this thread, got ${r.threadFaults.minor}`);
  for (const source of ['mincore', 'pagemap']) {
    const res = pw.residency(m, 0, m.length, { source });
    assert(res.source === source && res.pages === 5, `${source}: 5 pages, got ${res.pages}`);
  }
  const f = pw.faults();
  assert(f.source === 'getrusage' && f.minor > 0, 'faults from getrusage');
  const u = pw.getrusage('thread');
  assert(typeof u.minorFaults === 'number' && u.maxRss > 0, 'getrusage fields');
  const z = pw.zeroPageBehaviour();
  m.unmap();
  return `faults ${r.threadFaults.minor}, zero page: ${JSON.stringify(z).slice(0, 80)}`;
});

await check('/proc readers', () => {
  const m = pw.mmap(page);
  const maps = procFromJs(() => pw.readMaps(), 'readMaps()');
  if (maps) assert(pw.findMapping(maps, m.address), 'the mapping in /proc/self/maps');
  const smaps = procFromJs(() => pw.readSmaps(), 'readSmaps()');
  if (smaps) assert(smaps.length > 0, 'smaps entries');
  m.unmap();
  const read = { readStatus: pw.readStatus, readStatm: pw.readStatm, readStat: pw.readStat, readSmapsRollup: pw.readSmapsRollup,
    readMeminfo: pw.readMeminfo, readVmstat: pw.readVmstat, readOvercommit: pw.readOvercommit };
  for (const [n, fn] of Object.entries(read)) {
    const v = procFromJs(() => fn(), `${n}()`);
    if (!denoLimited) assert(v && typeof v === 'object', `${n}() an object`);
  }
  assert(typeof pw.readThp() === 'object', 'readThp() an object');
  return maps ? `${maps.length} maps lines` : 'every JS /proc reader refused by Deno without --allow-all, as expected';
});

await check('system calls without a mapping: programBreak, adviceSupported, constants, vmaNamesSupported', () => {
  assert(typeof pw.programBreak() === 'bigint', 'programBreak() a bigint');
  assert(pw.adviceSupported('dontneed') === true, 'dontneed supported');
  assert(pw.constants.PROT_READ === 1, 'PROT_READ 1');
  assert(typeof pw.vmaNamesSupported() === 'boolean', 'vmaNamesSupported() a boolean');
  assert(Array.isArray(pw.hugetlbPools()), 'hugetlbPools() an array');
});

console.log(`smoke ${runtime.split(' ')[0]}: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
