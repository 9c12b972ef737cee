/**
 * registerPrometheus() with the real prom-client: the registry's text is
 * parsed back and its values checked against statm/smaps_rollup read just
 * before and just after the scrape, in a child where memory can only grow
 * between the reads (so a value must lie between the two); the categories
 * against the sum of the smaps walk they came from, exactly; the arena
 * gauges against arena.stats() exactly (nothing else touches an arena). The minimum interval is checked by counting
 * readings, never by timing.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry, register as defaultRegister } from 'prom-client';
import { Arena, mmap, pageSize } from '../lib/index';
import { registerPrometheus, METRICS } from '../lib/metrics';
import { ROOT } from './helpers/child';
import { quietReadings } from './helpers/quiet';

/** `name{labels} value` lines of the exposition text, as [name, labels, value]. */
function parse(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').match(/[a-z_]+="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = l.indexOf('=');
      labels[l.slice(0, eq)] = JSON.parse(l.slice(eq + 1)) as string;
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const between = (x: number, a: number, b: number): void => {
  expect(x).toBeGreaterThanOrEqual(Math.min(a, b));
  expect(x).toBeLessThanOrEqual(Math.max(a, b));
};

/** Lets the event loop turn: a scrape in the same turn as the last one shares its reading. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const KINDS = ['code', 'object-data', 'mapped-files', 'heap', 'main-stack', 'thread-stacks', 'malloc-arenas', 'malloc-mmapped', 'pagewise', 'shared', 'kernel', 'anonymous', 'v8-heap', 'unattributed'];
const arenas: Arena[] = [];
afterEach(() => {
  for (const a of arenas.splice(0)) a.close();
});

describe('registerPrometheus()', () => {
  it('a scrape shows resident bytes with their source, within statm/smaps_rollup read just before and after', () => {
    // In a child where memory only grows between the reads (see test/helpers/quiet.ts); here V8's threads free pages at any time.
    const q = quietReadings();
    for (const name of ['pagewise_process_resident_bytes', 'pagewise_process_pss_bytes', 'pagewise_process_swap_bytes']) expect(q.text).toContain(`# TYPE ${name} gauge`);
    const series = parse(q.text);
    const resident = series.filter((s) => s.name === 'pagewise_process_resident_bytes');
    expect(resident).toHaveLength(1);
    if (q.statmIsExact) {
      expect(resident[0]!.labels).toEqual({ source: 'statm' });
      between(resident[0]!.value, q.scrapeStatm0, q.scrapeStatm1);
    } else {
      expect(resident[0]!.labels).toEqual({ source: 'smaps_rollup' });
      between(resident[0]!.value, q.scrapeRoll0, q.scrapeRoll1);
    }
    // PSS <= RSS at any one moment, and RSS only grew until the read after.
    expect(series.find((s) => s.name === 'pagewise_process_pss_bytes')!.value).toBeLessThanOrEqual(q.scrapeRoll1);
    expect(series.find((s) => s.name === 'pagewise_process_swap_bytes')!.value).toBeGreaterThanOrEqual(0);
  });

  it('shows PSS and memory by owner: one series per category kind, adding up to the walk\'s smaps Rss exactly', async () => {
    const reg = new Registry();
    const r = registerPrometheus(reg, { minIntervalMs: 0, categoriesIntervalMs: 0 });
    expect(r.names).toEqual(Object.values(METRICS).map((m) => m.prometheus));
    const series = parse(await reg.metrics());
    expect(series.find((s) => s.name === 'pagewise_process_pss_bytes')!.value).toBe(r.sampler.last!.pss);
    const cats = series.filter((s) => s.name === 'pagewise_memory_bytes');
    // Bounded: one series per category kind, whatever the process maps.
    expect(cats.length).toBeGreaterThan(3);
    for (const c of cats) expect(KINDS).toContain(c.labels.category);
    expect(new Set(cats.map((c) => c.labels.category)).size).toBe(cats.length);
    expect(cats.find((c) => c.labels.category === 'code')!.value).toBeGreaterThan(0);
    // Folding into kinds loses no byte: the series add up to smaps' Rss summed at the walk.
    expect(cats.reduce((a, c) => a + c.value, 0)).toBe(r.sampler.last!.categoriesRss);
  });

  it('reports live arenas exactly as their stats() say, by name, and forgets closed ones', async () => {
    const reg = new Registry();
    registerPrometheus(reg, { minIntervalMs: 0, categories: false });
    const a = new Arena({ name: 'metrics-test' });
    arenas.push(a);
    a.alloc(64 * pageSize()).fill(1);
    const b = a.alloc(100);
    a.free(b);
    const series = parse(await reg.metrics()).filter((s) => s.labels.arena === 'metrics-test');
    const st = a.stats({ resident: true });
    const value = (name: string): number | undefined => series.find((s) => s.name === name)?.value;
    expect(value('pagewise_arena_committed_bytes')).toBe(st.committed);
    expect(value('pagewise_arena_allocated_bytes')).toBe(st.allocated);
    expect(value('pagewise_arena_retained_bytes')).toBe(st.retained);
    expect(value('pagewise_arena_resident_bytes')).toBe(st.resident);
    expect(st.allocated).toBeGreaterThanOrEqual(64 * pageSize());
    a.close();
    await turn(); // the next scrape, in a later turn of the event loop
    expect(parse(await reg.metrics()).filter((s) => s.labels.arena === 'metrics-test')).toEqual([]);
  });

  it('lists arenas with built-ins captured at load: patched Array.prototype.push and WeakRef.prototype.deref change nothing', async () => {
    const push = Array.prototype.push;
    const deref = WeakRef.prototype.deref;
    let a: Arena;
    try {
      Array.prototype.push = () => {
        throw new Error('patched push');
      };
      WeakRef.prototype.deref = () => {
        throw new Error('patched deref');
      };
      a = new Arena({ name: 'patched' });
    } finally {
      Array.prototype.push = push;
      WeakRef.prototype.deref = deref;
    }
    arenas.push(a);
    const reg = new Registry();
    registerPrometheus(reg, { minIntervalMs: 0, categories: false, pss: false });
    const committed = parse(await reg.metrics()).filter((s) => s.name === 'pagewise_arena_committed_bytes' && s.labels.arena === 'patched');
    expect(committed.map((s) => s.value)).toEqual([a.stats().committed]);
  });

  it('bounds the arena label: past maxArenaSeries names, arenas are summed under "other"', async () => {
    const reg = new Registry();
    registerPrometheus(reg, { minIntervalMs: 0, categories: false, pss: false, maxArenaSeries: 2 });
    for (const name of ['m1', 'm2', 'm3', 'm4']) {
      const a = new Arena({ name });
      arenas.push(a);
      a.alloc(pageSize());
    }
    const committed = parse(await reg.metrics()).filter((s) => s.name === 'pagewise_arena_committed_bytes');
    expect(committed.map((s) => s.labels.arena)).toEqual(['m1', 'm2', 'other']);
    expect(committed[2]!.value).toBe(arenas[2]!.stats().committed + arenas[3]!.stats().committed);
  });

  it('a scrape within minIntervalMs reports the last reading again, however memory moved', async () => {
    const reg = new Registry();
    const r = registerPrometheus(reg, { minIntervalMs: 3_600_000 });
    const first = await reg.metrics();
    const m = mmap(32 * 2 ** 20);
    m.view(0, m.length).fill(1); // 32 MiB more resident
    const second = await reg.metrics();
    m.unmap();
    expect(second).toBe(first);
    expect(r.sampler.readings).toBe(1);
    expect(r.sampler.walks).toBe(1);
  });

  it('minIntervalMs counts from the end of a reading: a reading that took longer than the interval still serves the next scrape', async () => {
    const reg = new Registry();
    const r = registerPrometheus(reg, { minIntervalMs: 1000, categoriesIntervalMs: 1000 });
    const t0 = performance.now();
    await reg.metrics();
    const s = r.sampler.last!;
    // The reading is stamped when it is complete: after every source it read.
    const spent = Object.values(s.costMs).reduce((a, b) => a + (b ?? 0), 0);
    expect(s.at).toBeGreaterThanOrEqual(t0 + spent);
    expect(s.categoriesAt).not.toBeNull();
    expect(s.at).toBeGreaterThanOrEqual(s.categoriesAt! + (s.costMs.explain ?? 0));
  });

  it('walks smaps for categories on its own interval, and reads the cheap sources on every scrape with minIntervalMs 0', async () => {
    const reg = new Registry();
    const r = registerPrometheus(reg, { minIntervalMs: 0, categoriesIntervalMs: 3_600_000 });
    // Each scrape in a turn of the event loop of its own, as HTTP requests come.
    await reg.metrics();
    await turn();
    await reg.metrics();
    await turn();
    await reg.metrics();
    // One reading per scrape, shared by its eight gauges.
    expect(r.sampler.readings).toBe(3);
    expect(r.sampler.walks).toBe(1);
  });

  it('with libraries, one category per loaded object\'s code', async () => {
    const reg = new Registry();
    registerPrometheus(reg, { minIntervalMs: 0, libraries: true, arenas: false });
    const cats = parse(await reg.metrics()).filter((s) => s.name === 'pagewise_memory_bytes');
    expect(cats.some((c) => c.labels.category!.startsWith('code:/'))).toBe(true);
    expect(cats.some((c) => c.labels.category === 'code')).toBe(false);
  });

  it('refuses bad arguments before registering anything; a second registration fails and leaves the first working; unregister removes them', async () => {
    const reg = new Registry();
    expect(() => registerPrometheus(reg, { minIntervalMs: -1 })).toThrow(RangeError);
    expect(() => registerPrometheus(reg, { scrape: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => registerPrometheus({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(reg.getMetricsAsArray()).toHaveLength(0);
    const r = registerPrometheus(reg, { categories: false });
    expect(() => registerPrometheus(reg)).toThrow(/already been registered/);
    expect(reg.getMetricsAsArray().map((m) => m.name)).toEqual(r.names);
    expect(parse(await reg.metrics()).some((s) => s.name === 'pagewise_process_resident_bytes')).toBe(true);
    r.unregister();
    r.unregister();
    expect(reg.getMetricsAsArray()).toHaveLength(0);
  });

  it('without a registry, uses prom-client\'s default one (the three-line setup)', async () => {
    const r = registerPrometheus(undefined, { categories: false });
    try {
      expect(await defaultRegister.metrics()).toContain('pagewise_process_resident_bytes{source=');
    } finally {
      r.unregister();
    }
  });

  it('without prom-client installed, says what to install (ERR_PAGEWISE_PEER_MISSING)', () => {
    // A child whose module resolution cannot find prom-client (the module loader, not the kernel, is altered).
    const hide = "const M = require('node:module'); const r = M._resolveFilename; M._resolveFilename = function (req, ...a) { if (req === 'prom-client') { const e = new Error(\"Cannot find module 'prom-client'\"); e.code = 'MODULE_NOT_FOUND'; throw e; } return r.call(this, req, ...a); };";
    const use = `try { require(${JSON.stringify(path.join(ROOT, 'dist', 'lib', 'metrics', 'index.js'))}).registerPrometheus(); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['-e', `${hide}\n${use}`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { code: string; message: string };
    expect(out.code).toBe('ERR_PAGEWISE_PEER_MISSING');
    expect(out.message).toContain('npm install prom-client');
  });
});
