/**
 * Verdicts are judged on the recent window (issue 25): growth before a
 * change point that has been flat since is `settled`, not growth; runtime
 * figures from stale statistics are left out of the slopes; one verdict per
 * piece of memory. Unit tests on synthetic series, and a real Node child
 * that grows for about 2 s and then idles, watched with its agent.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import { changePoint, flatTail, verdicts } from '../lib/explain/verdict';
import { explain, type ExplainSample } from '../lib/index';
import type { ExplainSnapshot, RuntimeStats } from '../lib/explain/types';

const MiB = 1 << 20;
const snap = (t: number, cats: Record<string, number>, bd: Record<string, number> = {}, extra: Partial<ExplainSnapshot> = {}): ExplainSnapshot => ({
  pid: 1, time: t, pageSize: 4096, costMs: 0, runtime: null,
  totals: { rss: Object.values(cats).reduce((a, b) => a + b, 0), pss: 0, uss: 0, swap: 0, anonHuge: 0, pageTables: 0, rollupRss: 0, vmas: 0, sealedVmas: 0, sealedBytes: 0, guardPages: null, ksm: null },
  categories: Object.entries(cats).map(([id, rss]) => ({ id, kind: 'anonymous', label: id, rss, pss: 0, private: 0, swap: 0, anonHuge: 0, vmaCount: 1, size: 0, source: id === 'malloc-mmapped' ? 'runtime' : 'vma', estimate: false, evidence: {} })),
  breakdowns: Object.entries(bd).map(([id, bytes]) => ({ id: id as 'array-buffers', label: id, bytes, statistic: 's', within: [], estimate: true, note: '' })),
  ...extra,
});

describe('change point', () => {
  it('a flat tail as long as what came before it; none in a straight line', () => {
    const xs = Array.from({ length: 20 }, (_, i) => i * 1000);
    // A curved ramp (fast, then slower) for 6 points, then flat within the band.
    const ys = [0, 10, 16, 20, 22, 23, 23.5, 23.6, 23.6, 23.7, 23.6, 23.6, 23.7, 23.7, 23.6, 23.6, 23.7, 23.6, 23.6, 23.6].map((v) => v * MiB);
    expect(flatTail(xs, ys, MiB)).toBe(5);
    expect(flatTail(xs.slice(0, 9), ys.slice(0, 9), MiB)).toBeNull(); // 3 flat points after 5 moving: not yet
    expect(flatTail(xs, xs.map((_, i) => i * MiB), MiB)).toBeNull();
  });
  it('finds where a ramp turns flat; none in a straight line or noise around one', () => {
    const xs = Array.from({ length: 30 }, (_, i) => i * 1000);
    const b = changePoint(xs, xs.map((_, i) => (i < 8 ? i * 10 * MiB : 70 * MiB + (i % 2) * 4096)));
    expect(b === 7 || b === 8).toBe(true); // point 7 ends the ramp and starts the flat
    expect(changePoint(xs, xs.map((_, i) => i * MiB))).toBe(0);
    expect(changePoint(xs, xs.map((_, i) => i * MiB + (i % 3) * 100_000))).toBe(0);
  });
});

describe('verdicts on the recent window', () => {
  it('grew 846 MiB in 5 s, then flat for 60 s: settled, no growth named, nothing shrinks', () => {
    const series = Array.from({ length: 66 }, (_, i) => {
      const ab = Math.min(i, 5) * 169 * MiB;
      return snap(i * 1000, { 'v8-heap': 40 * MiB + Math.min(i, 5) * 4 * MiB, 'malloc-mmapped': 10 * MiB + ab }, { 'array-buffers': ab });
    });
    const v = verdicts(series);
    expect(v.filter((x) => x.kind === 'grows' || x.kind === 'shrinks')).toEqual([]);
    const ab = v.find((x) => x.subject === 'array-buffers')!;
    expect(ab.kind).toBe('settled');
    expect(ab.text).toMatch(/^array-buffers grew \+845\.0 MiB in 5\.0 s, then flat for 60 s \(\+0 KiB\)/);
    // The malloc mapping holding the same bytes is named with it, not judged again.
    expect(ab.text).toMatch(/with malloc-mmapped \+845\.0 MiB: the same memory/);
    expect(v.find((x) => x.subject === 'malloc-mmapped')).toBeUndefined();
    expect(v[v.length - 1]!.kind).toBe('steady');
  });
  it('a leak after warm-up: the slope is the recent one, not the warm-up\'s', () => {
    // +30 MiB in 10 s of warm-up, then +1 MiB/s for 50 s.
    const series = Array.from({ length: 61 }, (_, i) => snap(i * 1000, { 'v8-heap': 20 * MiB + Math.min(i, 10) * 3 * MiB + Math.max(0, i - 10) * MiB }));
    const v = verdicts(series).find((x) => x.subject === 'v8-heap')!;
    expect(v.kind).toBe('grows');
    expect(v.perMinute).toBeCloseTo(60 * MiB, -3);
    expect(v.change).toBe(50 * MiB);
    expect(v.seconds).toBe(50);
  });
  it('runtime figures of stale samples are left out of the slopes', () => {
    // The statistics froze at 5 MiB for samples 1..5 (a blocked event loop), then report 100 MiB, flat.
    const series = Array.from({ length: 20 }, (_, i) => snap(i * 1000, { heap: 30 * MiB }, { 'array-buffers': i === 0 ? 5 * MiB : i <= 5 ? 5 * MiB : 100 * MiB }, { runtimeStale: i >= 1 && i <= 5 }));
    const v = verdicts(series);
    const ab = v.find((x) => x.subject === 'array-buffers')!;
    // With the stale ones out, 14 samples are flat at 100 MiB after one at 5: too few before the change to split, so one line over 15.
    expect(ab.samples).toBe(15);
    expect(ab.text).toMatch(/5 samples with stale runtime statistics left out/);
  });
  it('a Node program\'s teardown (after its exit event) is left out of the verdicts', () => {
    const series = Array.from({ length: 10 }, (_, i) => snap(i * 1000, { 'malloc-mmapped': 10 * MiB + i * 4 * MiB }, { 'array-buffers': i * 4 * MiB }));
    series.push(snap(10_000, { 'malloc-mmapped': 0 }, { 'array-buffers': 36 * MiB }, { teardown: true }));
    const ab = verdicts(series).find((x) => x.subject === 'array-buffers')!;
    expect(ab.kind).toBe('grows');
    expect(ab.samples).toBe(10);
    expect(verdicts(series).find((x) => x.kind === 'shrinks')).toBeUndefined();
  });
  it('advice fits the process: a C program is not told to run under node', () => {
    const series = Array.from({ length: 10 }, (_, i) => snap(i * 1000, { anonymous: 10 * MiB + i * 5 * MiB }, {}, { node: false }));
    const c = verdicts(series).find((x) => x.subject === 'anonymous')!;
    expect(c.kind).toBe('grows');
    expect(c.text).not.toMatch(/node/);
    const n = verdicts(series.map((s) => ({ ...s, node: true }))).find((x) => x.subject === 'anonymous')!;
    expect(n.text).toMatch(/-- node app\.js/);
  });
});

describe('a Node child that grows for about 2 s, then idles (watched with its agent)', () => {
  it('names no growth at the end: the growth is settled, the runtime figures too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-settle-'));
    const agent = path.join(ROOT, 'dist', 'lib', 'explain', 'agent.js');
    const child = spawn(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'explain', 'grow-then-idle.js')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: `--require ${JSON.stringify(agent)}`, PAGEWISE_EXPLAIN_AGENT: dir, PAGEWISE_EXPLAIN_AGENT_MS: '100' },
    });
    let idle = false;
    child.stdout!.on('data', (b: Buffer) => { if (b.toString().startsWith('idle')) idle = true; });
    const runtime = (): RuntimeStats | null => {
      try {
        return JSON.parse(fs.readFileSync(path.join(dir, `${child.pid}.json`), 'utf8')) as RuntimeStats;
      } catch {
        return null;
      }
    };
    const samples: ExplainSample[] = [];
    let afterIdle = 0;
    let idleAt = -1;
    try {
      await new Promise((r) => child.once('spawn', r));
      // Counted, not timed: after the child said it idles, 16 samples and at
      // least as long as it took to get there (a loaded machine stretches both).
      for await (const s of explain.watch({ pid: child.pid!, intervalMs: 200, runtime })) {
        if (s.runtime === null && !idle) continue; // not yet started (exec, then the agent's first report)
        samples.push(s);
        if (!idle) continue;
        if (idleAt < 0) idleAt = s.time;
        if (++afterIdle >= 16 && s.time - idleAt > idleAt - samples[0]!.time) break;
      }
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const v = verdicts(samples);
    if (process.env.SHOW) console.log(v.map((x) => x.text).join('\n'));
    expect(v.filter((x) => x.kind === 'grows').map((x) => x.text)).toEqual([]);
    const rss = v.find((x) => x.subject === 'rss')!;
    expect(rss.kind).toBe('settled');
    // 120 MiB of written ArrayBuffers were kept.
    expect(rss.change).toBeGreaterThanOrEqual(120 * MiB);
    expect(v.find((x) => x.subject === 'array-buffers')?.kind).toBe('settled');
    expect(v[v.length - 1]!.kind).toBe('steady');
  });
});
