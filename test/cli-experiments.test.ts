import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ASAN, sanitizerSkips, unlessSanitizer } from './helpers/sanitizer';
import { ifMeasurable, unmeasurable } from './helpers/emulation';
import { pageSize } from '../lib/kernel/system';
import { barChart, fmtExact, fmtValue, groupedBarChart, lineChart, wrapLabel } from '../lib/cli/charts';
import { formatMap, rowLength } from '../lib/cli/map';
import { HANG_GUARD_MS, compileCliIfStale } from './helpers/child';
import { formatTable, type ExperimentsReport } from '../lib/cli/experiments';
import { repeatRows, runVerdict, type RepeatReport } from '../lib/cli/experiments-repeat';
import type { ExperimentResult } from '../lib/experiments';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'lib', 'cli.js');

/** Runs the CLI as a user does: `node dist/lib/cli.js ...` (what `npm start` and the `pagewise` bin run). */
function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30 * 60_000 }); // a hang guard, not a time limit
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(compileCliIfStale, HANG_GUARD_MS); // a hang guard, not a time limit

describe('pagewise experiments', () => {
  it('--help for every command exits 0 and prints usage', () => {
    for (const cmd of ['experiments', 'map', 'report']) {
      const r = run([cmd, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: pagewise ${cmd}`));
    }
    const top = run(['--help']);
    expect(top.status).toBe(0);
    for (const cmd of ['experiments', 'map', 'report', 'system']) expect(top.stdout).toContain(`  ${cmd}`);
  });

  // Experiments 1 and 7, `map` and `report` read mincore over many pages: where
  // mincore does not answer per page of this size (qemu-user at 16K guest pages)
  // it writes past its vector and the CLI can crash; those commands are skipped there.
  it.skipIf(unmeasurable('mincore', 'pagewise experiments 1 and 7'))('is the default command: a table with a verdict per experiment, nothing on a non-TTY stderr', () => {
    const r = run(['--only', '1', '--only', 'cow-fork']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    // Piped stdout has no columns: the table fits 80.
    for (const l of r.stdout.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    const rows = r.stdout.split('\n').filter((l) => /^\s*\d+\s{2}\S/.test(l));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^ 1 {2}Zero-fill-on-demand +confirmed$/);
    expect(r.stdout).toContain('\n      faults writing 256 fresh pages: 256 faults\n');
    ifMeasurable('forkChildFaults', 'experiment 7 row: verdict and child faults', () => {
      unlessSanitizer('experiment 7 row: verdict and child read faults', ASAN.shadowReads, () => {
        expect(rows[1]).toMatch(/^ 7 {2}Copy-on-write after fork +confirmed$/);
        expect(r.stdout).toContain('\n      child faults reading all of them: 0 faults\n');
        expect(r.stdout).toMatch(/2 experiments in [\d.]+ s: 2 confirmed, 0 refuted, 0 depends\./);
      });
      expect(r.stdout).toContain('child faults writing 32 of them: 32 faults');
    });
  });

  // Experiment 9 runs the probe under `ulimit -d` (RLIMIT_DATA).
  it.skipIf(sanitizerSkips('--json over experiments 7 and 9', ASAN.rlimitData))('--json prints the full results with the documented schema', () => {
    const r = run(['experiments', '--json', '--only', '7', '--only', '9']);
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout) as Record<string, unknown> & { results: Record<string, unknown>[]; failures: unknown[] };
    expect(rep.kernel).toBe(os.release());
    expect(rep.pageSize).toBeTypeOf('number');
    expect(rep.failures).toEqual([]);
    expect(rep.results.map((x) => x.id)).toEqual(['cow-fork', 'rlimit-data']);
    for (const x of rep.results) {
      expect(Object.keys(x)).toEqual(expect.arrayContaining(['id', 'number', 'title', 'question', 'claim', 'measurements', 'verdict', 'notes', 'key', 'durationMs', 'thpMode']));
      expect(['confirmed', 'refuted', 'depends']).toContain(x.verdict);
      for (const mm of x.measurements as Record<string, unknown>[]) {
        expect(Object.keys(mm).sort()).toEqual(['name', 'source', 'unit', 'value']);
      }
    }
    const cow = rep.results[0]!;
    const faults = (cow.measurements as { name: string; value: unknown }[]).find((mm) => mm.name === 'child faults writing 32 of them');
    ifMeasurable('forkChildFaults', 'experiment 7 JSON: child write faults', () => expect(faults?.value).toBe(32));
  });

  it('--markdown prints a table', () => {
    const r = run(['experiments', '--markdown', '--only', '7']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('| # | Question | Verdict | Key figures |');
    ifMeasurable('forkChildFaults', 'experiment 7 markdown row: verdict', () =>
      unlessSanitizer('experiment 7 markdown row: verdict', ASAN.shadowReads, () => expect(r.stdout).toMatch(/\| 7 \| After fork, .* \| \*\*confirmed\*\* \|/)));
  });

  it('skips probe experiments with the reason when the probe is missing', () => {
    const r = run(['experiments', '--json', '--only', 'malloc-brk'], { PAGEWISE_PROBE: '/nonexistent/pagewise-probe' });
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout) as { results: { skipped?: string; verdict: string; measurements: unknown[] }[] };
    expect(rep.results[0]!.skipped).toMatch(/^probe not built/);
    expect(rep.results[0]!.verdict).toBe('depends');
    expect(rep.results[0]!.measurements).toEqual([]);
  });

  it('a usage error exits 2 with a one-line reason that points at --help', () => {
    const bad = run(['experiments', '--only', 'nope']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^pagewise experiments: --only nope: no such experiment\. Name one by number or id: 1 zero-fill, .*\(see 'pagewise experiments --help'\)$/m);
    expect(bad.stderr.match(/only/g)).toHaveLength(1);
    const unknownFlag = run(['experiments', '--frobnicate']);
    expect(unknownFlag.status).toBe(2);
    expect(unknownFlag.stderr.trim().split('\n')).toHaveLength(1);
    const both = run(['experiments', '--json', '--markdown']);
    expect(both.status).toBe(2);
    expect(both.stderr).toBe("pagewise experiments: choose one of --json and --markdown (see 'pagewise experiments --help')\n");
    const unknownCmd = run(['frobnicate']);
    expect(unknownCmd.status).toBe(2);
    expect(unknownCmd.stderr).toMatch(/^pagewise: unknown command 'frobnicate'/);
  });
});

describe('pagewise experiments --repeat', () => {
  it('refuses a count outside 1-100 or not an integer before running anything (exit 2, one line)', () => {
    for (const bad of ['0', '101', 'x', '1.5', '-3']) {
      const r = run(['experiments', `--repeat=${bad}`, '--only', '7']);
      expect(r.status, bad).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^pagewise experiments: --repeat must be an integer from 1 to 100, got '.*' \(see 'pagewise experiments --help'\)\n$/);
    }
    const missing = run(['experiments', '--repeat']);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('N=2 of one experiment: a row with its verdict per run and whether it held, the load per run; exit 0 only when it held', () => {
    const r = run(['experiments', '--repeat', '2', '--only', 'cow-fork']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^pagewise \S+ experiments, 2 runs in a row — Linux .*; load average \(1 min\) [\d.]+ at the start, [\d.]+ at the end$/);
    expect(lines[2]).toMatch(/^# +experiment +run 1 +run 2 +same every run$/);
    const row = /^7 +cow-fork +(\S+) +(\S+) +(yes|NO)$/.exec(lines[3]!)!;
    expect(row).not.toBeNull();
    for (const v of [row[1], row[2]]) expect(['confirmed', 'refuted', 'depends', 'inconclusive', 'skipped', 'failed']).toContain(v);
    const held = row[1] === row[2];
    expect(row[3]).toBe(held ? 'yes' : 'NO');
    expect(lines[4]).toMatch(/^ +load average +[\d.]+->[\d.]+ +[\d.]+->[\d.]+$/);
    expect(lines[6]).toBe(`${held ? 1 : 0} of 1 experiments gave the same verdict in every run ('inconclusive' counted as its own verdict).`);
    expect(r.status).toBe(held ? 0 : 1);
  });

  it('--json: the report of every run and the rows', () => {
    const r = run(['experiments', '--repeat', '2', '--only', '7', '--json']);
    const rep = JSON.parse(r.stdout) as RepeatReport;
    expect(rep.runs).toBe(2);
    expect(rep.reports).toHaveLength(2);
    expect(rep.runLoad).toHaveLength(2);
    expect(rep.rows.map((x) => [x.id, x.verdicts.length])).toEqual([['cow-fork', 2]]);
    expect(rep.rows[0]!.verdicts).toEqual(rep.reports.map((x) => runVerdict(x.results[0]!)));
    expect(r.status).toBe(rep.rows[0]!.held ? 0 : 1);
  });

  it('counts inconclusive, skipped and failed as verdicts of their own', () => {
    const res = (verdict: ExperimentResult['verdict'], extra: Partial<ExperimentResult> = {}): ExperimentResult =>
      ({ id: 'x', number: 1, verdict, ...extra }) as ExperimentResult;
    const list = [{ id: 'x', number: 1 }];
    const rows = (...rs: (ExperimentResult | null)[]): { verdicts: string[]; held: boolean } =>
      repeatRows(list, rs.map((x) => ({ results: x ? [x] : [] })))[0]!;
    expect(rows(res('depends'), res('depends', { inconclusive: true, condition: 'inconclusive here: ...' }))).toEqual({ id: 'x', number: 1, verdicts: ['depends', 'inconclusive'], held: false });
    expect(rows(res('confirmed'), res('confirmed')).held).toBe(true);
    expect(rows(res('depends', { skipped: 'no probe' }), null).verdicts).toEqual(['skipped', 'failed']);
    expect(rows(res('refuted'), res('confirmed')).held).toBe(false);
  });
});

describe('pagewise map', () => {
  it.skipIf(unmeasurable(['mincore', 'dontneedZeroes'], 'pagewise map'))('shows zero-fill-on-demand and MADV_DONTNEED page by page', () => {
    const r = run(['map', '--json']);
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout) as { pages: number; pageSize: number; steps: { label: string; picture: string; resident: number; rss: number }[] };
    expect(d.pages).toBe(64);
    const [mapped, written, read, dontneed, again] = d.steps;
    expect(mapped!.picture).toBe('.'.repeat(64));
    expect(written!.picture).toBe('#'.repeat(32) + '.'.repeat(32));
    expect(written!.rss).toBe(32 * d.pageSize);
    expect(read!.resident).toBe(48);
    // Read faults: the zero page ('z', no Rss) or private pages ('#'), whichever this kernel does.
    expect(read!.picture.slice(32, 48)).toMatch(/^(z{16}|#{16})$/);
    expect(dontneed!.picture.slice(16, 32)).toBe('.'.repeat(16));
    expect(dontneed!.rss).toBe(read!.rss - 16 * d.pageSize);
    expect(again!.picture[16]).toBe('#');
    const text = run(['map']);
    expect(text.status).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[1]).toBe('mmap (MAP_NORESERVE): 0 present, Rss 0 B, 0 faults');
    expect(lines[2]).toBe(`  ${'.'.repeat(64)}`);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    // 1000 pages: one character per page, in rows of 64 that fit 80 columns.
    const big = run(['map', '--pages', '1000']);
    expect(big.status).toBe(0);
    for (const l of big.stdout.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
  });

  it('the residency map wraps to the terminal: rows of whole groups of 8 within the width', () => {
    expect(rowLength(80)).toBe(64);
    expect(rowLength(40)).toBe(32);
    expect(rowLength(10)).toBe(8);
    const demo = { pages: 100, pageSize: pageSize(), group: 1, steps: [{ label: 'write pages 0..49', picture: '#'.repeat(50) + '.'.repeat(50), resident: 50, zeroPage: 0, rss: 50 * pageSize(), faults: 50 }] };
    const text = formatMap(demo, 40).split('\n').filter(Boolean);
    const at = text.findIndex((l) => l.startsWith('  #'));
    expect(text.slice(at)).toEqual([`  ${'#'.repeat(32)}`, `  ${'#'.repeat(18)}${'.'.repeat(14)}`, `  ${'.'.repeat(32)}`, `  ${'.'.repeat(4)}`]);
    for (const l of text) expect(l.length).toBeLessThanOrEqual(40);
  });

  it('refuses a bad --pages with a one-line reason (a usage error: exit 2)', () => {
    const r = run(['map', '--pages', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^pagewise map: --pages must be an integer from 4 to 1048576, got 'x'/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('pagewise report', () => {
  it('a --html path that cannot be written fails at once, before any experiment runs, and leaves no file behind', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-report-'));
    try {
      // A directory where the file should be, and a file inside a missing directory.
      for (const [target, code] of [[dir, 'EISDIR'], [path.join(dir, 'missing', 'r.html'), 'ENOENT']] as const) {
        const r = run(['report', '--html', target, '--only', '1']);
        expect(r.status, target).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`^pagewise: ${code}: .*open '${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`));
        expect(r.stdout).toBe(''); // nothing ran: no "wrote", no table
      }
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(unmeasurable('mincore', 'pagewise report'))('writes one self-contained HTML page with SVG charts and no network references', () => {
    const file = path.join(os.tmpdir(), `pagewise-report-${process.pid}.html`);
    try {
      const r = run(['report', '--html', file, '--only', '1', '--only', '10']);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`wrote ${file}: 2 experiments\n`);
      const html = fs.readFileSync(file, 'utf8');
      expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
      expect((html.match(/<svg /g) ?? []).length).toBe(2);
      expect(html).toContain('RSS of the mapping against pages written');
      expect(html).toContain(`Time per ${pageSize() / 1024}K page for each prefault method`);
      expect(html).not.toMatch(/<script|<link|src="http|href="http/);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('chart text stays readable: bar labels wrap to their slot, a line chart\'s legend has its own row above the plot', () => {
    expect(wrapLabel('MADV_POPULATE_WRITE', 15)).toEqual(['MADV_POPULATE_', 'WRITE']);
    expect(wrapLabel('THP first touch', 15)).toEqual(['THP first touch']);
    expect(wrapLabel('malloc_trim(0) again', 15)).toEqual(['malloc_trim(0)', 'again']);
    expect(wrapLabel('averyveryverylongword', 5)).toEqual(['averyveryverylongword']);
    const labels = ['first touch', 'MAP_POPULATE', 'MADV_POPULATE_WRITE', 'THP first touch', 'Arena.prefault'];
    const bars = barChart('t', { name: 'ns', x: [0, 1, 2, 3, 4], y: [1, 2, 3, 4, 5], labels, xUnit: 'method', yUnit: 'ns/page' });
    expect(bars).toContain('>MADV_POPULATE_</tspan><tspan');
    const line = lineChart('t', [
      { name: 'A', x: [1, 2], y: [10, 800], xUnit: 'pages', yUnit: 'ns' },
      { name: 'B', x: [1, 2], y: [5, 700], xUnit: 'pages', yUnit: 'ns' },
    ]);
    // Legend swatches sit on one row; every data point lies below that row.
    const swatchY = [...line.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="10"/g)].map((m) => Number(m[1]));
    expect(swatchY.length).toBe(2);
    expect(new Set(swatchY).size).toBe(1);
    const pointY = [...line.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Math.min(...pointY)).toBeGreaterThan(swatchY[0]! + 10);
  });

  it.skipIf(unmeasurable('mincore', 'pagewise report') || sanitizerSkips('pagewise report charts', 'the experiments that run the C probe are skipped under the sanitizer (its runtime replaces glibc malloc), so their charts are absent'))('charts the experiments with figures to plot, axes titled with units, ranges as in the tables', () => {
    const file = path.join(os.tmpdir(), `pagewise-report-all-${process.pid}.html`);
    try {
      const r = run(['report', '--html', file]);
      expect(r.status).toBe(0);
      const html = fs.readFileSync(file, 'utf8');
      const sections = html.split('<section id="').slice(1);
      const charted = sections.filter((x) => x.includes('<svg ')).map((x) => x.slice(0, x.indexOf('"')));
      // 3 and 9 are errors and signals (ENOMEM, SIGBUS, ok): the table says it better.
      expect(charted).toEqual(['zero-fill', 'dontneed-vs-munmap', 'malloc-brk', 'heap-holes', 'exit-recovery', 'cow-fork', 'kernel-memory', 'prefault', 'guard-pages', 'batched-madvise', 'rss-sources']);
      // Every chart has a rotated y-axis title.
      for (const svg of html.match(/<svg [\s\S]*?<\/svg>/g) ?? []) expect(svg).toMatch(/transform="rotate\(-90 /);
      // The unit is on the ticks (KiB, MiB; ns, µs), the axis title names the quantity.
      expect(html).toContain('>mapping Rss</text>');
      expect(html).toMatch(/class="tick"[^>]*>1\u202fMiB</);
      expect(html).toContain('>time per page (log scale)</text>');
      expect(html).toContain('>dirty pages given back (log scale)</text>');
      // Chart 1 spans the table's 256 pages, no more.
      const zf = sections.find((x) => x.startsWith('zero-fill'))!;
      const xs = [...zf.matchAll(/<title>[^<]*, (\d+): [^<]*<\/title><\/circle>/g)].map((m) => Number(m[1]));
      expect(Math.max(...xs)).toBe(256);
      expect(zf).toContain('pages resident after writing 256');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('numbers are written as people read them: binary units for bytes, ns/µs/ms for times, thousands grouped', () => {
    const sp = '\u202f';
    expect([0, 512, 1024, 1536, 768 * 1024, 1 << 20, 1.5 * 2 ** 30].map((v) => fmtValue(v, 'bytes'))).toEqual(['0', `512${sp}B`, `1${sp}KiB`, `1.5${sp}KiB`, `768${sp}KiB`, `1${sp}MiB`, `1.5${sp}GiB`]);
    expect([850, 1500, 13_974, 1_500_000, 999_999].map((v) => fmtValue(v, 'ns/page'))).toEqual([`850${sp}ns`, `1.5${sp}µs`, `14${sp}µs`, `1.5${sp}ms`, `1${sp}ms`]);
    expect([10, 1000, 60000, 0.25].map((v) => fmtValue(v, 'guards'))).toEqual(['10', `1${sp}000`, `60${sp}000`, '0.25']);
    expect(fmtValue(-12288, 'bytes')).toBe(`\u221212${sp}KiB`);
    // On a bar, enough digits to be within 0.1%: 1 MiB + 4 KiB is not '1 MiB'.
    expect(fmtExact(1052672, 'bytes')).toBe(`1.004${sp}MiB`);
  });

  it('contenders share one chart: one group per x, one bar per contender, one legend, whiskers where there is a spread', () => {
    const svg = groupedBarChart('t', [
      { name: 'loop', x: [10, 1000, 60000], y: [4409, 2036, 13974], xUnit: 'guards', yUnit: 'ns/guard', trials: [7, 7, 7], lo: [4000, 2000, 13000], hi: [5000, 2500, 15000] },
      { name: 'batched', x: [10, 1000, 60000], y: [1179, 563, 1248], xUnit: 'guards', yUnit: 'ns/guard', trials: [7, 7, 7], lo: [1000, 500, 1200], hi: [1300, 600, 1300] },
    ]);
    expect((svg.match(/<svg /g) ?? []).length).toBe(1);
    expect((svg.match(/<rect [^>]*><title>/g) ?? []).length).toBe(6);
    expect(svg).toContain('>loop</text>');
    expect(svg).toContain('>batched</text>');
    expect((svg.match(/<path d="M/g) ?? []).length).toBe(6);
    expect(svg).toContain(`>60\u202f000</tspan>`);
    expect(svg).toContain('median of 7; 4\u202fµs to 5\u202fµs');
    expect(() => groupedBarChart('t', [
      { name: 'a', x: [1], y: [1], xUnit: '', yUnit: 'ns' },
      { name: 'b', x: [1], y: [1], xUnit: '', yUnit: 'bytes' },
    ])).toThrow(RangeError);
  });

  it('a log axis says so and puts its ticks on decades, so a small point does not flatten the rest', () => {
    const svg = lineChart('t', [{ name: 'A', x: [16, 256, 4096], y: [30000, 1300, 800], xUnit: 'pages', yUnit: 'ns/page' }], { logX: true, logY: true, xTitle: 'pages', yTitle: 'ns per page' });
    expect(svg).toContain('>ns per page (log scale)</text>');
    expect(svg).toContain('>pages (log scale)</text>');
    const ticks = [...svg.matchAll(/text-anchor="end" font-size="11" fill="#374151">([^<]+)</g)].map((m) => m[1]);
    expect(ticks).toEqual(['100\u202fns', '1\u202fµs', '10\u202fµs', '100\u202fµs']);
    // 800 and 1300 ns sit apart, not both on the floor.
    const cy = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Math.abs(cy[1]! - cy[2]!)).toBeGreaterThan(10);
  });

  it('needs --html (a usage error: exit 2)', () => {
    const r = run(['report']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^pagewise report: report needs --html FILE/);
  });

  it('a file it cannot write is a failure: exit 1', () => {
    const r = run(['report', '--html', '/nonexistent-dir/x.html', '--only', '8']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^pagewise: .*ENOENT/);
  });
});

describe('the experiments table', () => {
  it('wraps a long title under itself instead of cutting it, the verdict after its last line', () => {
    const title = 'Do MADV_GUARD_INSTALL guard pages cost less than PROT_NONE mappings?';
    const rep = { pagewise: '0', kernel: '6', arch: 'x64', node: 'v20', pageSize: 4096, durationMs: 1000, failures: [],
      results: [{ number: 11, id: 'guard-pages', title, verdict: 'confirmed', thpMode: 'madvise', measurements: [], key: [], condition: 'c' }] } as unknown as ExperimentsReport;
    const text = formatTable(rep, 60);
    expect(text).not.toContain('…');
    const lines = text.split('\n');
    const first = lines.findIndex((l) => l.startsWith('11  '));
    const joined = lines.slice(first, first + 2).map((l) => l.trim()).join(' ').replace(/^11 +/, '');
    expect(joined).toBe(`${title}  confirmed`);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(60);
  });
});
