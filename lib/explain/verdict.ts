/**
 * Verdicts from a series of snapshots, computed, never written by hand.
 * Each category and each runtime breakdown is judged on its recent window:
 * the series is split at its change point (the split into two straight
 * segments that fits far better than one line), and only the segment after
 * it says whether the memory grows now. Memory that moved before the change
 * point and has been flat since is `settled` (warm-up, one-off setup), not
 * growth. Runtime figures from statistics the process could not report in
 * time (`runtimeStale`) are left out of the slopes. One verdict per piece
 * of memory: the figures that see the same bytes from another side (the
 * ArrayBuffers inside malloc's heap, V8's live objects inside its pages)
 * are named with it, not judged again.
 * @internal
 */
import type { ExplainSnapshot, ExplainVerdict } from './types';

const MiB = 1024 * 1024;

function fmt(n: number): string {
  const a = Math.abs(n);
  const sign = n < 0 ? '-' : '+';
  if (a >= 1024 * MiB) return `${sign}${(a / 1024 / MiB).toFixed(2)} GiB`;
  if (a >= MiB) return `${sign}${(a / MiB).toFixed(1)} MiB`;
  return `${sign}${(a / 1024).toFixed(0)} KiB`;
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Points each segment of a split needs at least. */
const MIN_SEGMENT = 3;
/** A split is a change point when its two lines leave at most this share of one line's squared error. */
const SPLIT_GAIN = 0.2;

/**
 * The change point of (xs, ys): the index where the second of two straight
 * segments starts, when two lines fit with at most SPLIT_GAIN of one line's
 * squared error; else 0 (one straight line fits). Prefix sums: O(n).
 */
export function changePoint(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2 * MIN_SEGMENT) return 0;
  // Centred on the first point and scaled, so the sums stay exact enough.
  const x0 = xs[0]!;
  const y0 = ys[0]!;
  const S = { x: [0], y: [0], xx: [0], xy: [0], yy: [0] };
  for (let i = 0; i < n; i++) {
    const x = (xs[i]! - x0) / 1000;
    const y = (ys[i]! - y0) / MiB;
    S.x.push(S.x[i]! + x);
    S.y.push(S.y[i]! + y);
    S.xx.push(S.xx[i]! + x * x);
    S.xy.push(S.xy[i]! + x * y);
    S.yy.push(S.yy[i]! + y * y);
  }
  /** Squared error of the least-squares line through points [a, b). */
  const sse = (a: number, b: number): number => {
    const m = b - a;
    const sx = S.x[b]! - S.x[a]!;
    const sy = S.y[b]! - S.y[a]!;
    const sxx = S.xx[b]! - S.xx[a]! - (sx * sx) / m;
    const sxy = S.xy[b]! - S.xy[a]! - (sx * sy) / m;
    const syy = S.yy[b]! - S.yy[a]! - (sy * sy) / m;
    return Math.max(0, sxx > 0 ? syy - (sxy * sxy) / sxx : syy);
  };
  const one = sse(0, n);
  if (!(one > 1e-9)) return 0;
  let best = 0;
  let bestErr = Infinity;
  for (let b = MIN_SEGMENT; b <= n - MIN_SEGMENT; b++) {
    const err = sse(0, b) + sse(b, n);
    if (err < bestErr) {
      bestErr = err;
      best = b;
    }
  }
  return bestErr <= SPLIT_GAIN * one ? best : 0;
}

/**
 * Where the series' flat tail starts: the longest run of last points within
 * `band` of each other (max - min below it), when it has MIN_SEGMENT points
 * or more and lasts at least as long as everything before it; else null.
 * A curved ramp (fast, then slower, then flat, as a heap's growth after
 * setup tends to be) has no clean two-line split; its flat tail is plain.
 */
export function flatTail(xs: readonly number[], ys: readonly number[], band: number): number | null {
  const n = ys.length;
  let lo = ys[n - 1]!;
  let hi = lo;
  let k = n - 1;
  while (k > 0) {
    const y = ys[k - 1]!;
    if (Math.max(hi, y) - Math.min(lo, y) >= band) break;
    lo = Math.min(lo, y);
    hi = Math.max(hi, y);
    k--;
  }
  if (k === 0 || n - k < MIN_SEGMENT) return null;
  return xs[n - 1]! - xs[k]! >= xs[k]! - xs[0]! ? k : null;
}

interface Subject { label: string; ys: number[]; runtime: boolean }

/** The series of one subject: category rss or breakdown bytes (0 where absent; NaN where a runtime figure came from stale statistics). */
function seriesOf(series: readonly ExplainSnapshot[]): Map<string, Subject> {
  const out = new Map<string, Subject>();
  const get = (id: string, label: string, runtime: boolean): number[] => {
    let s = out.get(id);
    if (!s) out.set(id, (s = { label, ys: new Array<number>(series.length).fill(0), runtime }));
    s.runtime ||= runtime;
    return s.ys;
  };
  series.forEach((snap, i) => {
    get('rss', 'process RSS', false)[i] = snap.totals.rss;
    for (const c of snap.categories) get(c.id, c.label, c.source === 'runtime')[i] = c.rss;
    for (const b of snap.breakdowns) get(b.id, b.label, true)[i] = b.bytes;
  });
  // Stale statistics: every figure drawn from them is left out at that sample.
  series.forEach((snap, i) => {
    if (!snap.runtimeStale) return;
    for (const s of out.values()) if (s.runtime) s.ys[i] = NaN;
  });
  return out;
}

/** What a growing subject suggests, given what else moved and whether the process runs V8. */
function hint(id: string, growing: Set<string>, flat: Set<string>, node: boolean, last = 0): string {
  const v8Flat = flat.has('v8-heap') || flat.has('v8-used');
  switch (id) {
    case 'malloc-free': {
      // The figure trimMalloc() could free: malloc's free bytes now (an upper bound: only whole free pages come back).
      const trim = `trimMalloc() (malloc_trim(0)) would give back up to ${fmt(last).slice(1)} (malloc's free bytes now; only whole free pages return)`;
      return v8Flat && !growing.has('malloc-in-use')
        ? `malloc holds more and more free memory while use is flat: fragmentation; ${trim}; for good, try MALLOC_ARENA_MAX=2 or another allocator (jemalloc, mimalloc)`
        : `malloc keeps the freed memory of a growing workload; ${trim}`;
    }
    case 'array-buffers':
      return 'ArrayBuffers/Buffers are retained: look for Buffers kept in caches, arrays or closures (a heap snapshot shows who holds them)';
    case 'malloc-in-use':
      if (!node) return 'memory allocated with malloc and not freed: a leak or a growing cache (heaptrack or valgrind --tool=massif show where)';
      return growing.has('array-buffers') ? 'malloc use grows with the ArrayBuffers held' : 'native memory allocated and not freed while ArrayBuffers are flat: a native (addon) leak or a growing native cache';
    case 'v8-heap':
    case 'v8-used':
      return 'the JS heap grows: objects are retained; compare two heap snapshots (node --heapsnapshot-signal=SIGUSR2)';
    case 'malloc-mmapped':
      return node ? 'large malloc chunks (large ArrayBuffers among them) are kept' : 'large malloc chunks (from 128 KiB, mmapped one by one) are kept: heaptrack or valgrind --tool=massif show who allocates them';
    case 'malloc-arenas':
      return 'memory of malloc\'s per-thread arenas grows: many threads allocating, or memory kept in them (MALLOC_ARENA_MAX=2 caps the arenas)';
    case 'heap':
      return node ? 'the main malloc arena ([heap]) grows' : 'the main malloc arena ([heap]) grows: memory allocated with malloc and kept (heaptrack or valgrind --tool=massif show where)';
    case 'thread-stacks':
      return 'thread stacks grow: threads are created and not joined, or worker threads accumulate';
    case 'mapped-files':
      return 'mapped files grow: files mapped and not unmapped, or more of them read';
    case 'anonymous':
      return node
        ? 'anonymous memory outside malloc\'s heaps grows (V8 heap, large ArrayBuffers, malloc mmapped chunks): run the program under `pagewise explain -- node app.js` to split it'
        : 'anonymous memory no rule names grows: the program\'s own mmaps, or an allocator other than glibc malloc (its statistics or heaptrack tell)';
    case 'unattributed':
      return node ? 'memory no rule or runtime statistic accounts for grows (addon mmaps, libuv, V8 pages beyond its statistics)' : 'memory no rule accounts for grows';
    case 'pagewise':
      return 'pagewise mappings or arenas grow: unmap or reset them';
    case 'shared':
      return 'shared memory grows';
    default:
      return id.startsWith('code:') ? 'more of an object\'s code became resident (normal warm-up)' : 'this grows';
  }
}

type Kind = 'grows' | 'shrinks' | 'settled';
interface Row {
  id: string; label: string; kind: Kind;
  /** The judged window: after the change point for grows/shrinks, the whole series for settled. */
  change: number; perMinute: number; first: number; last: number; samples: number; seconds: number;
  /** For settled: the move before the change point and the flat time after it. */
  moved?: { change: number; seconds: number; flatSeconds: number; flatChange: number };
}

/**
 * Verdicts over `series` (at least 3 snapshots over some time; otherwise
 * none). Each subject is judged on its recent window (after its change
 * point, or the whole series when one line fits): it grows (shrinks) when
 * it gained (lost) at least the threshold there, the larger of 1 MiB and 2%
 * of the series' largest RSS, and its slope agrees; it has `settled` when it
 * moved by the threshold before the change point and not since.
 */
export function verdicts(given: readonly ExplainSnapshot[]): ExplainVerdict[] {
  // A program's teardown (after its exit event) is not its memory's story.
  const series = given.some((s) => s.teardown) ? given.filter((s) => !s.teardown) : given;
  if (series.length < 3) return [];
  const first = series[0]!;
  const last = series[series.length - 1]!;
  const ms = last.time - first.time;
  if (ms <= 0) return [];
  const node = series.some((s) => s.node === true || s.runtime !== null);
  const xsAll = series.map((s) => s.time - first.time);
  // Noise floor: 2% of the largest RSS of the series, at least 1 MiB.
  const threshold = Math.max(MiB, Math.round(Math.max(...series.map((x) => x.totals.rss)) * 0.02));
  const all = seriesOf(series);
  const moved: Row[] = [];
  const flat: { id: string; change: number }[] = [];
  const staleSamples = series.filter((s) => s.runtimeStale).length;
  for (const [id, { label, ys: raw }] of all) {
    const keep = raw.map((y, i) => (Number.isFinite(y) ? i : -1)).filter((i) => i >= 0);
    if (keep.length < 3) continue; // too few figures to judge (stale statistics)
    const xs = keep.map((i) => xsAll[i]!);
    const ys = keep.map((i) => raw[i]!);
    const n = ys.length;
    const b = flatTail(xs, ys, threshold) ?? changePoint(xs, ys);
    const rx = xs.slice(b);
    const ry = ys.slice(b);
    const change = ry[ry.length - 1]! - ry[0]!;
    const perMinute = slope(rx, ry) * 60_000;
    const row = { id, label, change, perMinute, first: ry[0]!, last: ry[ry.length - 1]!, samples: ry.length, seconds: (rx[rx.length - 1]! - rx[0]!) / 1000 };
    if (Math.abs(change) >= threshold && Math.sign(perMinute) === Math.sign(change)) {
      moved.push({ ...row, kind: change > 0 ? 'grows' : 'shrinks' });
    } else if (b > 0 && Math.abs(ys[b]! - ys[0]!) >= threshold) {
      moved.push({
        id, label, kind: 'settled', change: ys[n - 1]! - ys[0]!, perMinute: slope(xs, ys) * 60_000, first: ys[0]!, last: ys[n - 1]!, samples: n,
        seconds: (xs[n - 1]! - xs[0]!) / 1000,
        moved: { change: ys[b]! - ys[0]!, seconds: (xs[b]! - xs[0]!) / 1000, flatSeconds: row.seconds, flatChange: change },
      });
    } else if (id !== 'rss') flat.push({ id, change });
  }
  const growing = new Set(moved.filter((m) => m.kind === 'grows').map((m) => m.id));
  const flatIds = new Set(flat.map((f) => f.id));
  const flatText = (): string => {
    const names = flat
      .filter((f) => ['v8-heap', 'v8-used', 'heap', 'malloc-arenas', 'malloc-free', 'malloc-in-use', 'array-buffers', 'thread-stacks', 'anonymous', 'mapped-files'].includes(f.id))
      .map((f) => `${all.get(f.id)!.label} ${fmt(f.change)}`);
    return names.length ? ` while ${names.join(', ')} stay flat` : '';
  };
  const out: ExplainVerdict[] = [];
  const byId = new Map(moved.map((m) => [m.id, m]));
  const used = new Set<string>();
  const rate = (m: Row): string => `${fmt(m.perMinute)}/min (${fmt(m.change)} over the last ${m.seconds.toFixed(0)} s)`;
  const stale = staleSamples ? `; ${staleSamples} sample${staleSamples === 1 ? '' : 's'} with stale runtime statistics left out of the runtime figures` : '';
  const push = (m: Row, label: string, companions: string[], hintText: string | null): void => {
    used.add(m.id);
    const with_ = companions.map((id) => byId.get(id)).filter((c): c is Row => c !== undefined && !used.has(c.id) && c.kind === m.kind && Math.sign(c.change) === Math.sign(m.change));
    for (const c of with_) used.add(c.id);
    const same = with_.length ? ` (with ${with_.map((c) => `${c.label} ${c.kind === 'settled' ? fmt(c.moved!.change) : `${fmt(c.perMinute)}/min`}`).join(', ')}: the same memory seen from another side, counted once)` : '';
    let text: string;
    if (m.kind === 'settled') {
      const d = m.moved!;
      text = `${label} ${d.change > 0 ? 'grew' : 'shrank'} ${fmt(d.change)} in ${d.seconds.toFixed(1)} s, then flat for ${d.flatSeconds.toFixed(0)} s (${fmt(d.flatChange)})${same}: ` +
        `warm-up or one-off ${d.change > 0 ? 'setup' : 'release'}, not growth now`;
    } else {
      text = `${label} ${m.kind} ${rate(m)}${same}` + (m.id === 'rss' ? '' : flatText()) + (m.kind === 'grows' && hintText ? `: ${hintText}` : '');
    }
    out.push({ kind: m.kind, subject: m.id, label, perMinute: m.perMinute, change: m.change, first: m.first, last: m.last, text: text + stale, samples: m.samples, seconds: m.seconds, threshold, flat });
  };
  // Families first, each led by its most specific figure: ArrayBuffers over
  // the malloc memory holding them, V8's heap over its live objects, malloc's
  // statistics over the mappings they live in.
  const mallocMaps = ['malloc-mmapped', 'heap', 'malloc-arenas'];
  const lead = (ids: string[]): Row | undefined => ids.map((id) => byId.get(id)).find((m) => m !== undefined && !used.has(m.id));
  const ab = lead(['array-buffers']);
  if (ab) push(ab, ab.label, ['malloc-in-use', ...mallocMaps, 'unattributed'], hint(ab.id, growing, flatIds, node));
  // V8's live objects are judged only with its pages: heapUsed counts garbage
  // until the next GC, so it climbs while the resident pages stay flat.
  const v8Pages = all.has('v8-heap');
  const v8 = lead(v8Pages ? ['v8-heap'] : ['v8-heap', 'v8-used']);
  if (v8) push(v8, v8.label, ['v8-used'], hint(v8.id, growing, flatIds, node));
  if (v8Pages && byId.has('v8-used') && !used.has('v8-used')) {
    used.add('v8-used');
    flat.push({ id: 'v8-used', change: byId.get('v8-used')!.change });
  }
  const mf = lead(['malloc-free']);
  if (mf) push(mf, mf.label, ['heap', 'malloc-arenas'], hint(mf.id, growing, flatIds, node, mf.last));
  const mu = lead(['malloc-in-use', 'malloc-mmapped']);
  if (mu) push(mu, mu.label, mallocMaps, hint(mu.id, growing, flatIds, node));
  // Code of loaded objects: one verdict for all of them (file pages read in: warm-up, reclaimable).
  const code = moved.filter((m) => m.id.startsWith('code:'));
  for (const c of code) used.add(c.id);
  const rank = (m: Row): number => (m.kind === 'settled' ? 1 : 0);
  const rest = moved.filter((m) => !used.has(m.id) && m.id !== 'rss').sort((a, b) => rank(a) - rank(b) || Math.abs(b.perMinute) - Math.abs(a.perMinute));
  for (const m of rest) push(m, m.label, [], hint(m.id, growing, flatIds, node));
  const codeNow = code.filter((c) => c.kind === 'grows' || c.kind === 'shrinks');
  if (codeNow.length) {
    const sum: Row = { id: 'code', label: 'code of loaded objects', kind: 'grows', change: 0, perMinute: 0, first: 0, last: 0, samples: codeNow[0]!.samples, seconds: codeNow[0]!.seconds };
    for (const c of codeNow) {
      sum.change += c.change;
      sum.perMinute += c.perMinute;
      sum.first += c.first;
      sum.last += c.last;
    }
    sum.kind = sum.change >= 0 ? 'grows' : 'shrinks';
    if (Math.abs(sum.change) >= threshold) push(sum, `code of loaded objects (${codeNow.map((c) => c.label.replace(/^code /, '')).join(', ')})`, [], 'pages of the binaries read in as code runs (warm-up; file-backed and reclaimable, not a leak)');
  }
  const total = byId.get('rss');
  if (total) push(total, 'process RSS', [], null);
  if (!out.some((v) => v.kind === 'grows' || v.kind === 'shrinks')) {
    const r = all.get('rss')!;
    const change = r.ys[r.ys.length - 1]! - r.ys[0]!;
    out.push({
      kind: 'steady', subject: 'rss', label: 'process RSS', perMinute: slope(xsAll, r.ys) * 60_000, change, first: r.ys[0]!, last: r.ys[r.ys.length - 1]!,
      text: `steady: no category grows or shrinks by ${fmt(threshold).slice(1)} or more now (over ${(ms / 1000).toFixed(0)} s; process RSS ${fmt(change)})${stale}`,
      samples: series.length, seconds: ms / 1000, threshold, flat,
    });
  }
  return out;
}
