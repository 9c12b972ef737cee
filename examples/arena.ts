// The arena: reserve 64 GiB for nothing, allocate, measure, free, reset, and
// watch resident memory come back, counted exactly.
// Run: npm run build:ts && node dist/examples/arena.js
import { Arena, readSmapsRollup } from 'pagewise';

const MiB = 2 ** 20;
const mib = (n: number): string => (n / MiB).toFixed(2);
const processRss = (): number => readSmapsRollup().rss; // exact (page-table walk), whole process

// hugePages: false advises MADV_NOHUGEPAGE, so residency moves in 4K steps.
using arena = new Arena({ reserve: 64 * 2 ** 30, hugePages: false, name: 'example' });
let s = arena.stats();
console.log(`reserved ${s.reserved / 2 ** 30} GiB: committed ${s.committed} bytes, resident ${s.resident} bytes, ${s.mappings} mapping`);

const rss0 = processRss();
const small: Uint8Array[] = [];
for (let i = 0; i < 10_000; i++) small.push(arena.alloc(100).fill(1));
const large: Uint8Array[] = [];
for (let i = 0; i < 20; i++) large.push(arena.alloc(MiB).fill(2));
s = arena.stats();
console.log(`10000 blocks of 100 B and 20 of 1 MiB: allocated ${mib(s.allocated)} MiB, committed ${mib(s.committed)} MiB, resident ${mib(s.resident)} MiB in ${s.mappings} mappings`);
console.log(`process RSS grew by ${mib(processRss() - rss0)} MiB; bookkeeping ${s.bookkeepingBytes} bytes (${((100 * s.bookkeepingBytes) / s.committed).toFixed(2)}% of committed)`);

for (const v of large) arena.free(v);
s = arena.stats();
console.log(`freed the 1 MiB blocks: resident ${mib(s.resident)} MiB (${mib(s.retained)} MiB retained for reuse, given back by decay), a freed view has length ${large[0]!.length}`);
const purged = arena.purge();
s = arena.stats({ resident: true });
console.log(`purge(): advised ${mib(purged)} MiB; resident ${mib(s.resident)} MiB, retained ${s.retained} bytes`);

const t0 = process.hrtime.bigint();
for (let i = 0; i < 1_000_000; i++) arena.free(arena.alloc(64));
console.log(`alloc+free of 64 B: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ns each, no system call`);

arena.reset();
s = arena.stats();
console.log(`reset(): resident ${s.resident} bytes, committed ${mib(s.committed)} MiB kept for reuse, every old view has length ${small[0]!.length}`);
console.log(`process RSS: ${mib(processRss() - rss0)} MiB above the start (V8's heap, holding the 10000 stale views)`);

// Decommit gives the commit charge back. Memory that JS has seen is never
// made inaccessible while a backing store over it may be alive (a stale
// pointer must read zeros, not crash): until the old buffers' finalizers
// have run (after a GC, when the event loop turns) the range is fresh
// MAP_NORESERVE read-write pages, a mapping of its own beside the reservation.
arena.reset({ decommit: true });
s = arena.stats();
console.log(`reset({ decommit: true }): committed ${s.committed} bytes, resident ${s.resident} bytes, ${s.mappings} mappings while the old views' buffers are alive`);

// Output (4 KiB pages):
// reserved 64 GiB: committed 0 bytes, resident 0 bytes, 1 mapping
// 10000 blocks of 100 B and 20 of 1 MiB: allocated 21.07 MiB, committed 24.00 MiB, resident 21.07 MiB in 2 mappings
// process RSS grew by 23.76 MiB; bookkeeping 69532 bytes (0.28% of committed)
// freed the 1 MiB blocks: resident 21.07 MiB (20.00 MiB retained for reuse, given back by decay), a freed view has length 0
// purge(): advised 20.00 MiB; resident 1.07 MiB, retained 0 bytes
// alloc+free of 64 B: 92 ns each, no system call
// reset(): resident 0 bytes, committed 24.00 MiB kept for reuse, every old view has length 0
// process RSS: 8.95 MiB above the start (V8's heap, holding the 10000 stale views)
// reset({ decommit: true }): committed 0 bytes, resident 0 bytes, 2 mappings while the old views' buffers are alive
