#!/usr/bin/env node
// Issue 26, "the floor itself": the plain system calls pagewise wraps
// (madvise of one page, getrusage, mincore over 1 GiB) called through Node
// 26's node:ffi (V8 fast calls for plain C functions), through pagewise's
// Node-API functions (the floor pagewise stands on) and in a C loop (the lab
// binary), sampled round by round in a rotating order; plus a call with no
// arguments (ffi getpid, Node-API gettid: both one system call) to separate
// the cost of crossing from the cost of passing pointers. Prints the run as
// Markdown; `npm run bench:doc` runs it and puts it into BENCHMARKS.md's
// generated section.
//
//   npx node-gyp build && npm run build:ts
//   N26=$(PAGEWISE_RUNTIMES_DIR=/work/rt bash scripts/runtimes.sh path node26)
//   PAGEWISE_FROM_SOURCE=1 $N26 --experimental-ffi scripts/bench-ffi.js [--runs N]
'use strict';
const os = require('node:os');
const path = require('node:path');
const { scriptArgs } = require('./script-args.js');

let ffi;
try {
  ffi = require('node:ffi');
} catch (err) {
  process.stderr.write(`node:ffi is not available in Node ${process.version} (${err.code || err.message}): run this under Node 26+ with --experimental-ffi\n`);
  process.exit(2);
}
const root = path.join(__dirname, '..');
const pw = require(path.join(root, 'dist/lib/index.js'));
const { native } = require(path.join(root, 'dist/lib/native/binding.js'));
const { cbench } = require(path.join(root, 'dist/lib/bench/cnative.js'));
const { medianInterval, summarize, formatNs, formatRatioInterval } = require(path.join(root, 'dist/lib/bench/index.js'));

const runs = scriptArgs('bench-ffi', { runs: { type: 'string' }, print: { type: 'boolean', default: false } }).rounds('runs', 15);
const C = native.constants;
const libc = ffi.dlopen('libc.so.6', {
  madvise: { arguments: ['pointer', 'uint64', 'int32'], return: 'int32' },
  getrusage: { arguments: ['int32', 'pointer'], return: 'int32' },
  mincore: { arguments: ['pointer', 'uint64', 'pointer'], return: 'int32' },
  getpid: { arguments: [], return: 'int32' },
}).functions;

const page = pw.pageSize();
const one = pw.mmap(page);
const oneAddress = one.address;
const oneRegion = one.region;
const size = 1024 * 1024 * 1024;
const big = pw.mmap(size, { noReserve: true });
big.advise('nohugepage');
big.advise('populate_write', 0, size / 2);
const vec = new Uint8Array(size / page);
const vecPointer = ffi.getRawPointer(vec.buffer);
const ru = new ArrayBuffer(144); // struct rusage
const ruPointer = ffi.getRawPointer(ru);
const out8 = new Float64Array(8);
if (libc.madvise(oneAddress, page, C.MADV_DONTNEED) !== 0 || libc.getrusage(C.RUSAGE_THREAD, ruPointer) !== 0 || libc.mincore(big.address, size, vecPointer) !== 0) {
  throw new Error('a system call through node:ffi failed');
}

// One loop per contender, each calling one function (monomorphic, as a user writes it).
const time = (n, body) => {
  const t0 = process.hrtime.bigint();
  body(n);
  return Number(process.hrtime.bigint() - t0) / n;
};
const ffiMadvise = (n) => { for (let i = 0; i < n; i++) libc.madvise(oneAddress, page, 4); };
const napiMadvise = (n) => { for (let i = 0; i < n; i++) native.madvise(oneRegion, 0, page, 4); };
const ffiGetrusage = (n) => { for (let i = 0; i < n; i++) libc.getrusage(1, ruPointer); };
const napiGetrusage = (n) => { for (let i = 0; i < n; i++) native.getrusage(1, out8); };
const ffiMincore = (n) => { for (let i = 0; i < n; i++) libc.mincore(big.address, size, vecPointer); };
const napiMincore = (n) => { for (let i = 0; i < n; i++) native.mincore(big.region, 0, size, vec); };
const ffiGetpid = (n) => { for (let i = 0; i < n; i++) libc.getpid(); };
const napiGettid = (n) => { for (let i = 0; i < n; i++) native.gettid(); };

const rows = [
  { name: "madvise(DONTNEED), one page", c: () => cbench.cbenchMadvise(one, 0, page, C.MADV_DONTNEED, 4000) / 4000, ffi: () => time(4000, ffiMadvise), napi: () => time(4000, napiMadvise) },
  { name: 'getrusage(RUSAGE_THREAD)', c: () => cbench.cbenchGetrusage(C.RUSAGE_THREAD, 4000) / 4000, ffi: () => time(4000, ffiGetrusage), napi: () => time(4000, napiGetrusage) },
  { name: 'mincore, 1 GiB half resident', c: () => cbench.cbenchMincore(big, 0, size, 10) / 10, ffi: () => time(10, ffiMincore), napi: () => time(10, napiMincore) },
  { name: 'no arguments: getpid (ffi) / gettid (Node-API)', c: null, ffi: () => time(20000, ffiGetpid), napi: () => time(20000, napiGettid) },
];

const before = os.loadavg().map((x) => x.toFixed(2)).join(' ');
const started = Date.now();
const table = ['| call | C | node:ffi | node:ffi / C [interval] | Node-API | Node-API / C [interval] | node:ffi / Node-API [interval] |', '|---|---|---|---|---|---|---|'];
for (const row of rows) {
  const contenders = [row.c, row.ffi, row.napi];
  const samples = contenders.map(() => []);
  for (let round = -2; round < runs; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + round + 3 * runs) % contenders.length;
      if (!contenders[i]) continue;
      const ns = contenders[i]();
      if (round >= 0) samples[i].push(ns);
    }
  }
  const ratio = (a, b) => {
    if (samples[b].length === 0) return '-';
    const rs = samples[a].map((x, i) => x / samples[b][i]);
    return formatRatioInterval(summarize(rs).median, medianInterval(rs));
  };
  const med = (i) => (samples[i].length ? formatNs(summarize(samples[i]).median) : '-');
  table.push(`| ${row.name} | ${med(0)} | ${med(1)} | ${ratio(1, 0)} | ${med(2)} | ${ratio(2, 0)} | ${ratio(1, 2)} |`);
}
const after = os.loadavg().map((x) => x.toFixed(2)).join(' ');
const section = [
  `Generated by \`scripts/bench-ffi.js\` on ${new Date(started).toISOString().slice(0, 16).replace('T', ' ')} UTC: Node ${process.version} (\`--experimental-ffi\`), ${os.type()} ${os.release()} ${os.machine()}, ${os.cpus().length} CPUs, load average ${before} at the start and ${after} at the end; ${runs} interleaved rounds, medians of per-round ratios with a ~95% interval.`,
  '',
  ...table,
  '',
].join('\n');
process.stdout.write(section);
one.unmap();
big.unmap();
