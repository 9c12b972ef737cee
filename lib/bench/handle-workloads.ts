/**
 * The arena's workloads, each run whole in a child process per
 * contender (clean resident figures, one allocator per process), children
 * interleaved round by round, medians and paired ratios:
 *  - `lru`: an off-heap LRU cache of 200,000 records of 100-2,000 B (each
 *    written whole), 1,000,000 operations on 300,000 keys (a hit reads the
 *    record's last byte, a miss inserts and evicts the oldest);
 *  - `small64-<n>`: n live 64 B blocks (written), 1,000,000 random
 *    replacements;
 *  - `mixed`: 8,000 slots of 16 B-1 MiB (log-uniform), every page written,
 *    half freed at random, 5 rounds;
 *  - `glibc-simple`: the loop of glibc's bench-malloc-simple (mimalloc-bench):
 *    n blocks of one size allocated then freed in order, sizes 16/256/1024/
 *    4096 B, n 25/100/400/1600;
 *  - `malloc-large`: mimalloc-bench's malloc-large, 5,000 blocks of 2 MiB,
 *    each written whole and freed before the next;
 *  - `alloc-test`: mimalloc-bench's alloc-test, single thread: 2^18 slots
 *    about half live, 1e7 operations on slots picked by a Pareto 80/20 law,
 *    blocks of 5 B-1 KiB written whole on allocation and read whole before
 *    their free.
 * The loops are in handle-workload-loops.ts (with what the ports change),
 * the contenders in handle-allocators.ts.
 * Contenders: the arena by handle, the arena by view, `Buffer.allocUnsafe`,
 * a pure-JS slab pool (js-pool.ts), `@thi.ng/malloc` (where installed: a
 * dev dependency), and C glibc malloc/free and C mimalloc
 * (where `libmimalloc-dev` is installed) in a small C program this module
 * builds with `cc` (handle-workloads-c.ts), on the same random sequence.
 *
 * Per child: time of the workload (GC included), resident memory after it
 * and after freeing everything (and `purge()`, `malloc_trim(0)`,
 * `mi_collect(true)`, or for JS two forced GCs), Mark-Compact count and the
 * longest GC pause (PerformanceObserver 'gc'). Resident: `VmRSS` of
 * `/proc/self/status`, as a delta from just before the workload (exact
 * since Linux 6.16).
 *
 * Run: `node --expose-gc dist/lib/bench/handle-workloads.js [--quick]
 * [--rounds N] [--only lru,mixed] [--contenders handles,buffer] [--json]`.
 * @internal
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { pageSize } from '../kernel/system';
import { readStatus } from '../kernel/status';
import { judge, medianInterval } from './harness';
import { buildCWorkloads } from './handle-workloads-c';
import { gcTwice, makeAllocator, thingInstalled } from './handle-allocators';
import { Rng, runWorkload, sizesFor, WORKLOADS } from './handle-workload-loops';

function vmRssBytes(): number {
  return readStatus().vmRss ?? NaN;
}

/** One child's figures. */
export interface ChildResult {
  ms: number;
  rss: number;
  rssFreed: number;
  markCompacts: number;
  maxPauseMs: number;
  /** Minor page faults of the process during the workload. */
  faults: number;
  /** The arena's resident bytes and bookkeeping after free-all and purge() (-1: not an arena). */
  own: number;
  sum: number;
}

/**
 * Workloads `@thi.ng/malloc` is not run on: its free() walks a list of every
 * live block (O(live) per free), so 10,000 replacements at 1e6 live 64 B
 * blocks took 91 s (the full workload would take hours); at 1e5 live, 4 s.
 * alloc-test keeps about 1.3e5 blocks live through 1e7 operations.
 */
const THING_SKIPPED = new Set(['lru', 'small64-100000', 'small64-1000000', 'alloc-test']);

const JS_CONTENDERS = ['handles', 'handles-thp', 'views', 'buffer', 'pool', ...(thingInstalled() ? ['thing-malloc'] : [])];

async function child(workload: string, contender: string, quick: boolean): Promise<ChildResult> {
  const a = await makeAllocator(contender);
  const z = sizesFor(quick);
  let markCompacts = 0;
  let maxPause = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) markCompacts++;
      if (e.duration > maxPause) maxPause = e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  gcTwice();
  const base = vmRssBytes();
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = process.hrtime.bigint();
  const { live, sum } = runWorkload(workload, a, z, new Rng(0x9e3779b9));
  const t1 = process.hrtime.bigint();
  const faults = process.resourceUsage().minorPageFault - f0;
  const rss = vmRssBytes() - base;
  await new Promise((r) => setTimeout(r, 10));
  obs.disconnect();
  if (a.freeAll) a.freeAll();
  else for (const b of live) a.free(b);
  live.length = 0;
  a.settle();
  const rssFreed = vmRssBytes() - base;
  return { ms: Number(t1 - t0) / 1e6, rss, rssFreed, markCompacts, maxPauseMs: maxPause, faults, own: a.own(), sum };
}


interface Target {
  workload: string;
  what: string;
  /** Value of a round (a ratio), from the medians' inputs of that round. */
  of: (r: Record<string, ChildResult>) => number | undefined;
  max: number;
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a / b);

/** The arena's targets that these workloads measure (docs/arena.md, "Benchmarks"). */
export const TARGETS: readonly Target[] = [
  { workload: 'lru', what: 'time / Buffer.allocUnsafe', of: (r) => ratio(r.handles?.ms, r.buffer?.ms), max: 0.5 },
  { workload: 'lru', what: 'time / JS pool', of: (r) => ratio(r.handles?.ms, r.pool?.ms), max: 0.8 },
  { workload: 'lru', what: 'resident / Buffer.allocUnsafe', of: (r) => ratio(r.handles?.rss, r.buffer?.rss), max: 0.6 },
  { workload: 'lru', what: 'process resident after free-all+purge+GC / after workload', of: (r) => ratio(r.handles?.rssFreed, r.handles?.rss), max: 0.05 },
  { workload: 'lru', what: 'arena resident+bookkeeping after free-all+purge / process resident after workload', of: (r) => ratio(r.handles?.own, r.handles?.rss), max: 0.05 },
  { workload: 'small64-1000000', what: 'time / Buffer.allocUnsafe', of: (r) => ratio(r.handles?.ms, r.buffer?.ms), max: 0.5 },
  { workload: 'small64-1000000', what: 'resident / data (64 MB)', of: (r) => ratio(r.handles?.rss, 64e6), max: 1.3 },
  { workload: 'mixed', what: 'time / Buffer.allocUnsafe', of: (r) => ratio(r.handles?.ms, r.buffer?.ms), max: 0.5 },
  { workload: 'mixed', what: 'time / JS pool', of: (r) => ratio(r.handles?.ms, r.pool?.ms), max: 1 },
  { workload: 'mixed', what: 'Mark-Compacts - Buffer.allocUnsafe\'s', of: (r) => (r.handles && r.buffer ? r.handles.markCompacts - r.buffer.markCompacts : undefined), max: 0 },
  { workload: 'glibc-simple', what: 'time / C glibc malloc', of: (r) => ratio(r.handles?.ms, r['c-glibc']?.ms), max: 3 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function runChild(workload: string, contender: string, quick: boolean, cPaths: Record<string, string>): ChildResult | undefined {
  const args = quick ? ['--quick'] : [];
  const r = contender.startsWith('c-')
    ? spawnSync(cPaths[contender]!, [workload, quick ? '1' : '0'], { encoding: 'utf8', maxBuffer: 1 << 20 })
    : spawnSync(process.execPath, ['--expose-gc', __filename, '--child', workload, contender, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    process.stderr.write(`${workload}/${contender} failed: ${r.stderr}\n`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

const fmtMiB = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** Runs every workload `rounds` times, contenders interleaved (rotated each round); prints the table and the targets. */
export function runHandleWorkloads(options: { quick?: boolean; rounds?: number; only?: string[]; contenders?: string[]; json?: boolean } = {}): unknown {
  const quick = options.quick === true;
  const rounds = options.rounds ?? (quick ? 1 : 5);
  const cPaths = buildCWorkloads();
  const contenders = [...JS_CONTENDERS, ...Object.keys(cPaths)].filter((c) => !options.contenders || options.contenders.includes(c));
  const workloads = WORKLOADS.filter((w) => !options.only || options.only.includes(w));
  const results: Record<string, Record<string, ChildResult>[]> = {};
  for (const w of workloads) results[w] = [];
  for (let round = 0; round < rounds; round++) {
    for (const w of workloads) {
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
      const one: Record<string, ChildResult> = {};
      for (const c of order) {
        if (c === 'thing-malloc' && THING_SKIPPED.has(w)) continue;
        process.stderr.write(`round ${round + 1}/${rounds} ${w} ${c}\n`);
        const r = runChild(w, c, quick, cPaths);
        if (r) one[c] = r;
      }
      results[w]!.push(one);
    }
  }
  const lines: string[] = [];
  lines.push(`node ${process.version}, ${rounds} rounds, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, page ${pageSize()} B${quick ? ', QUICK' : ''}`);
  lines.push('');
  lines.push('| workload | contender | time ms | minor faults | resident after | after free-all | arena after purge | Mark-Compacts | max GC pause ms |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  const summary: Record<string, Record<string, Record<string, number>>> = {};
  for (const w of workloads) {
    summary[w] = {};
    for (const c of contenders) {
      const rs = results[w]!.map((o) => o[c]).filter((x): x is ChildResult => x !== undefined);
      if (rs.length === 0) continue;
      const m = {
        ms: median(rs.map((x) => x.ms)), rss: median(rs.map((x) => x.rss)), rssFreed: median(rs.map((x) => x.rssFreed)),
        markCompacts: median(rs.map((x) => x.markCompacts)), maxPauseMs: median(rs.map((x) => x.maxPauseMs)),
        faults: median(rs.map((x) => x.faults ?? 0)), own: median(rs.map((x) => x.own ?? -1)),
      };
      summary[w]![c] = m;
      const js = !c.startsWith('c-');
      lines.push(
        `| ${w} | ${c} | ${m.ms.toFixed(1)} | ${m.faults} | ${fmtMiB(m.rss)} | ${fmtMiB(m.rssFreed)} | ${m.own >= 0 ? fmtMiB(m.own) : '-'} | ${js ? m.markCompacts : '-'} | ${js ? m.maxPauseMs.toFixed(1) : '-'} |`,
      );
    }
  }
  if (contenders.includes('thing-malloc') && workloads.some((w) => THING_SKIPPED.has(w))) {
    lines.push('');
    lines.push(`thing-malloc (@thi.ng/malloc) not run on ${workloads.filter((w) => THING_SKIPPED.has(w)).join(', ')}: its free() walks every live block.`);
  }
  lines.push('');
  lines.push('| target | median [~95% interval] | limit | verdict |');
  lines.push('|---|---|---|---|');
  const verdicts: { target: string; median: number; interval: [number, number]; limit: number; verdict: string }[] = [];
  for (const t of TARGETS) {
    if (!results[t.workload]) continue;
    const vals = results[t.workload]!.map(t.of).filter((x): x is number => x !== undefined && Number.isFinite(x));
    if (vals.length === 0) continue;
    // The paired per-round values' median and its distribution-free interval
    // (with fewer than 6 rounds: their min and max), judged as the harness does.
    const interval = medianInterval(vals);
    const verdict = judge(interval, t.max);
    const med = median(vals);
    verdicts.push({ target: `${t.workload}: ${t.what}`, median: med, interval, limit: t.max, verdict });
    lines.push(`| ${t.workload}: ${t.what} | ${med.toFixed(3)} [${interval[0].toFixed(3)}–${interval[1].toFixed(3)}] | <= ${t.max} | ${verdict} |`);
  }
  const out = { node: process.version, rounds, load: loadavg(), page: pageSize(), quick, summary, verdicts };
  if (options.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else process.stdout.write(`${lines.join('\n')}\n`);
  return out;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(
      'npm run bench:handles -- [--quick] [--rounds N] [--only w1,w2] [--contenders c1,c2] [--json]\n' +
        `  workloads: ${WORKLOADS.join(', ')}\n  contenders: ${[...JS_CONTENDERS, 'c-glibc', 'c-mimalloc'].join(', ')}\n`,
    );
  } else if (argv[0] === '--child') {
    void child(argv[1]!, argv[2]!, argv.includes('--quick')).then((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
  } else {
    const at = (flag: string): string | undefined => {
      const i = argv.indexOf(flag);
      return i >= 0 ? argv[i + 1] : undefined;
    };
    const rounds = at('--rounds');
    const only = at('--only');
    const contenders = at('--contenders');
    runHandleWorkloads({
      ...(contenders ? { contenders: contenders.split(',') } : {}),
      quick: argv.includes('--quick'), json: argv.includes('--json'),
      ...(rounds ? { rounds: Number(rounds) } : {}),
      ...(only ? { only: only.split(',') } : {}),
    });
  }
}
