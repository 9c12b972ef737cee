/**
 * Verdicts from a series of snapshots, computed, never written by hand:
 * each category and each runtime breakdown gets a least-squares slope;
 * what moved beyond a threshold grows (or shrinks), set against what stayed
 * flat, with the figures and a hint naming the likely cause.
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
function slope(xs: number[], ys: number[]): number {
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

/** The series of one subject: category rss or breakdown bytes (0 where absent). */
function seriesOf(series: readonly ExplainSnapshot[]): Map<string, { label: string; ys: number[] }> {
  const out = new Map<string, { label: string; ys: number[] }>();
  const get = (id: string, label: string): number[] => {
    let s = out.get(id);
    if (!s) out.set(id, (s = { label, ys: new Array<number>(series.length).fill(0) }));
    return s.ys;
  };
  series.forEach((snap, i) => {
    get('rss', 'process RSS')[i] = snap.totals.rss;
    for (const c of snap.categories) get(c.id, c.label)[i] = c.rss;
    for (const b of snap.breakdowns) get(b.id, b.label)[i] = b.bytes;
  });
  return out;
}

/** What a growing subject suggests, given what else moved. */
function hint(id: string, growing: Set<string>, flat: Set<string>, last = 0): string {
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
      return growing.has('array-buffers') ? 'malloc use grows with the ArrayBuffers held' : 'native memory allocated and not freed while ArrayBuffers are flat: a native (addon) leak or a growing native cache';
    case 'v8-heap':
    case 'v8-used':
      return 'the JS heap grows: objects are retained; compare two heap snapshots (node --heapsnapshot-signal=SIGUSR2)';
    case 'malloc-mmapped':
      return 'large malloc chunks (large ArrayBuffers among them) are kept';
    case 'malloc-arenas':
      return 'memory of malloc\'s per-thread arenas grows: many threads allocating (try MALLOC_ARENA_MAX=2)';
    case 'heap':
      return 'the main malloc arena ([heap]) grows';
    case 'thread-stacks':
      return 'thread stacks grow: threads are created and not joined, or worker threads accumulate';
    case 'mapped-files':
      return 'mapped files grow: files mapped and not unmapped, or more of them read';
    case 'anonymous':
      return 'anonymous memory outside malloc\'s heaps grows (V8 heap, large ArrayBuffers, malloc mmapped chunks): run the program under `pagewise explain -- node app.js` to split it';
    case 'unattributed':
      return 'memory no rule or runtime statistic accounts for grows (addon mmaps, libuv, V8 pages beyond its statistics)';
    case 'pagewise':
      return 'pagewise mappings or arenas grow: unmap or reset them';
    case 'shared':
      return 'shared memory grows';
    default:
      return id.startsWith('code:') ? 'more of an object\'s code became resident (normal warm-up)' : 'this grows';
  }
}

/**
 * Verdicts over `series` (at least 3 snapshots over some time; otherwise
 * none). A subject grows when it gained at least the threshold, the larger
 * of 1 MiB and 2% of the series' largest RSS, from first to last and its slope agrees.
 */
export function verdicts(series: readonly ExplainSnapshot[]): ExplainVerdict[] {
  if (series.length < 3) return [];
  const first = series[0]!;
  const last = series[series.length - 1]!;
  const ms = last.time - first.time;
  if (ms <= 0) return [];
  const xs = series.map((s) => s.time - first.time);
  // Noise floor: 2% of the largest RSS of the series, at least 1 MiB.
  const threshold = Math.max(MiB, Math.round(Math.max(...series.map((x) => x.totals.rss)) * 0.02));
  const all = seriesOf(series);
  const moved: { id: string; label: string; change: number; perMinute: number; first: number; last: number }[] = [];
  const flat: { id: string; change: number }[] = [];
  for (const [id, { label, ys }] of all) {
    const change = ys[ys.length - 1]! - ys[0]!;
    const perMinute = slope(xs, ys) * 60_000;
    const row = { id, label, change, perMinute, first: ys[0]!, last: ys[ys.length - 1]! };
    if (Math.abs(change) >= threshold && Math.sign(perMinute) === Math.sign(change)) moved.push(row);
    else if (id !== 'rss') flat.push({ id, change });
  }
  const growing = new Set(moved.filter((m) => m.change > 0).map((m) => m.id));
  const flatIds = new Set(flat.map((f) => f.id));
  const seconds = ms / 1000;
  const common = { samples: series.length, seconds, threshold, flat };
  const flatText = (): string => {
    const names = flat
      .filter((f) => ['v8-heap', 'v8-used', 'heap', 'malloc-arenas', 'malloc-free', 'malloc-in-use', 'array-buffers', 'thread-stacks', 'anonymous', 'mapped-files'].includes(f.id))
      .map((f) => `${all.get(f.id)!.label} ${fmt(f.change)}`);
    return names.length ? ` while ${names.join(', ')} stay flat` : '';
  };
  const out: ExplainVerdict[] = [];
  const byId = new Map(moved.map((m) => [m.id, m]));
  const used = new Set<string>();
  const rate = (m: { perMinute: number; change: number }): string => `${fmt(m.perMinute)}/min (${fmt(m.change)} over ${seconds.toFixed(0)} s)`;
  const push = (m: (typeof moved)[number], label: string, companions: string[], hintText: string | null): void => {
    used.add(m.id);
    const with_ = companions.map((id) => byId.get(id)).filter((c): c is (typeof moved)[number] => c !== undefined && !used.has(c.id) && Math.sign(c.change) === Math.sign(m.change));
    for (const c of with_) used.add(c.id);
    const kind = m.change > 0 ? 'grows' : 'shrinks';
    const text = `${label} ${kind} ${rate(m)}` +
      (with_.length ? ` (with ${with_.map((c) => `${c.label} ${fmt(c.perMinute)}/min`).join(', ')}: the same memory seen from another side, counted once)` : '') +
      (m.id === 'rss' ? '' : flatText()) + (kind === 'grows' && hintText ? `: ${hintText}` : '');
    out.push({ kind, subject: m.id, label, perMinute: m.perMinute, change: m.change, first: m.first, last: m.last, text, ...common });
  };
  // Families first, each led by its most specific figure: ArrayBuffers over the malloc memory holding them, V8's heap over its live objects.
  const lead = (ids: string[]): (typeof moved)[number] | undefined => ids.map((id) => byId.get(id)).find((m) => m !== undefined && !used.has(m.id));
  const ab = lead(['array-buffers']);
  if (ab) push(ab, ab.label, ['malloc-mmapped', 'malloc-in-use'], hint(ab.id, growing, flatIds));
  const v8 = lead(['v8-heap', 'v8-used']);
  if (v8) push(v8, v8.label, ['v8-used'], hint(v8.id, growing, flatIds));
  const mf = lead(['malloc-free']);
  if (mf) push(mf, mf.label, [], hint(mf.id, growing, flatIds, mf.last));
  const mu = lead(['malloc-in-use', 'malloc-mmapped']);
  if (mu) push(mu, mu.label, ['malloc-mmapped'], hint(mu.id, growing, flatIds));
  // Code of loaded objects: one verdict for all of them (file pages read in: warm-up, reclaimable).
  const code = moved.filter((m) => m.id.startsWith('code:'));
  for (const c of code) used.add(c.id);
  const rest = moved.filter((m) => !used.has(m.id) && m.id !== 'rss').sort((a, b) => Math.abs(b.perMinute) - Math.abs(a.perMinute));
  for (const m of rest) push(m, m.label, [], hint(m.id, growing, flatIds));
  if (code.length) {
    const sum = { id: 'code', label: 'code of loaded objects', change: 0, perMinute: 0, first: 0, last: 0 };
    for (const c of code) {
      sum.change += c.change;
      sum.perMinute += c.perMinute;
      sum.first += c.first;
      sum.last += c.last;
    }
    if (Math.abs(sum.change) >= threshold) push(sum, `code of loaded objects (${code.map((c) => c.label.replace(/^code /, '')).join(', ')})`, [], 'pages of the binaries read in as code runs (warm-up; file-backed and reclaimable, not a leak)');
  }
  const total = byId.get('rss');
  if (total) push(total, 'process RSS', [], null);
  if (out.length === 0) {
    const r = all.get('rss')!;
    const change = r.ys[r.ys.length - 1]! - r.ys[0]!;
    out.push({
      kind: 'steady', subject: 'rss', label: 'process RSS', perMinute: slope(xs, r.ys) * 60_000, change, first: r.ys[0]!, last: r.ys[r.ys.length - 1]!,
      text: `steady: no category moved by ${fmt(threshold).slice(1)} or more over ${seconds.toFixed(0)} s (process RSS ${fmt(change)})`, ...common,
    });
  }
  return out;
}
