/**
 * `pagewise report --html FILE`: runs the experiments and writes one
 * self-contained HTML page (inline CSS and SVG charts drawn here, no
 * scripts, no network).
 */
import * as fs from 'node:fs';
import type { CliCommand } from './command';
import { collect, formatValue, onlyNames, type ExperimentsReport } from './experiments';
import { EXIT, UsageError, parseCommand, progress } from './support';
import { fmtBytes, plural } from '../format';
import type { ExperimentResult, Series } from '../experiments';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];

function fmtAxis(v: number, unit: string): string {
  if (unit === 'bytes') return fmtBytes(v);
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toFixed(2))}M`;
  if (Math.abs(v) >= 1e4) return `${Number((v / 1e3).toFixed(1))}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function niceMax(v: number, unit = ''): number {
  if (v <= 0) return 1;
  if (unit === 'bytes') return 2 ** Math.ceil(Math.log2(v));
  const p = 10 ** Math.floor(Math.log10(v));
  // Maxima whose quarters are round too (the axis has 4 steps).
  for (const f of [1, 1.2, 1.6, 2, 2.4, 3, 4, 6, 8, 10]) if (f * p >= v) return f * p;
  return 10 * p;
}

/** Average width of an 11px sans-serif character, for fitting labels. */
const CHAR_PX = 6.5;
/** Height of the legend row of a line chart. */
const LEGEND_ROW = 18;

/**
 * Splits a label into lines of at most `max` characters, breaking at spaces
 * and after underscores (`MADV_POPULATE_` / `WRITE`); a word longer than a
 * line stays whole.
 * @internal
 */
export function wrapLabel(text: string, max: number): string[] {
  const words = text.split(' ').flatMap((w) => w.split(/(?<=_)/));
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    const joined = cur === '' ? w : cur.endsWith('_') ? cur + w : `${cur} ${w}`;
    if (cur !== '' && joined.length > max) {
      lines.push(cur);
      cur = w;
    } else {
      cur = joined;
    }
  }
  if (cur !== '') lines.push(cur);
  return lines;
}

const W = 640;
const H = 300;
const PAD = { l: 86, r: 20, t: 30, b: 70 };

/** Options of a chart: axis titles (with their units) and log scales, each said on its axis. */
export interface ChartOptions {
  /** Title of the x axis, with its unit; `(log scale)` is added when `logX`. */
  xTitle?: string;
  /** Title of the y axis, with its unit; `(log scale)` is added when `logY`. */
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
}

/** A y axis: where a value goes (0 at the bottom, 1 at the top) and the ticks to draw. */
interface YAxis {
  frac(v: number): number;
  ticks: number[];
}

function linearAxis(max: number, unit: string): YAxis {
  const top = niceMax(max, unit);
  return { frac: (v) => v / top, ticks: [0, 1, 2, 3, 4].map((i) => (top * i) / 4) };
}

/** A log10 axis from the decade at or below the smallest positive value to the decade at or above the largest. */
function logAxis(values: number[]): YAxis {
  const pos = values.filter((v) => v > 0);
  const lo = Math.floor(Math.log10(pos.length ? Math.min(...pos) : 1));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(pos.length ? Math.max(...pos) : 10)));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return { frac: (v) => (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo), ticks };
}

function axisTitle(text: string | undefined, log: boolean | undefined): string {
  return text === undefined ? '' : `${text}${log ? ' (log scale)' : ''}`;
}

function frame(title: string, axis: YAxis, yUnit: string, body: string, xLabels: string, xTitle: string, yTitle: string, top = PAD.t): string {
  const ih = H - top - PAD.b;
  let grid = '';
  for (const t of axis.ticks) {
    const y = top + ih - ih * axis.frac(t);
    grid += `<line x1="${PAD.l}" y1="${y.toFixed(1)}" x2="${W - PAD.r}" y2="${y.toFixed(1)}" stroke="#e5e7eb"/>`;
    grid += `<text x="${PAD.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#374151">${esc(fmtAxis(t, yUnit))}</text>`;
  }
  const midY = top + ih / 2;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">` +
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600" fill="#111827">${esc(title)}</text>` +
    grid +
    `<line x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}" stroke="#6b7280"/>` +
    `<line x1="${PAD.l}" y1="${top}" x2="${PAD.l}" y2="${H - PAD.b}" stroke="#6b7280"/>` +
    body +
    xLabels +
    (xTitle ? `<text x="${(PAD.l + W - PAD.r) / 2}" y="${H - 8}" text-anchor="middle" font-size="12" fill="#374151">${esc(xTitle)}</text>` : '') +
    (yTitle ? `<text x="14" y="${midY.toFixed(1)}" text-anchor="middle" font-size="12" fill="#374151" transform="rotate(-90 14 ${midY.toFixed(1)})">${esc(yTitle)}</text>` : '') +
    `</svg>`
  );
}

/** A line chart of one or more series over numeric x (labels, when given, name the points). */
export function lineChart(title: string, series: Series[], options: ChartOptions = {}): string {
  const all = series.flatMap((s) => s.x);
  const tx = (v: number): number => (options.logX ? Math.log10(Math.max(v, 1)) : v);
  const xMin = Math.min(...all.map(tx));
  const xMax = Math.max(...all.map(tx));
  const first = series[0]!;
  const ys = series.flatMap((s) => s.y);
  const axis = options.logY ? logAxis(ys) : linearAxis(Math.max(...ys), first.yUnit);
  // The legend takes a row of its own between the title and the plot, so
  // it never covers a line.
  const top = PAD.t + LEGEND_ROW;
  const iw = W - PAD.l - PAD.r;
  const ih = H - top - PAD.b;
  const px = (v: number): number => PAD.l + (xMax === xMin ? iw / 2 : ((tx(v) - xMin) / (xMax - xMin)) * iw);
  const py = (v: number): number => top + ih - axis.frac(v) * ih;
  let body = '';
  let legendX = PAD.l;
  series.forEach((s, si) => {
    const c = COLORS[si % COLORS.length]!;
    const pts = s.x.map((x, i) => `${px(x).toFixed(1)},${py(s.y[i]!).toFixed(1)}`).join(' ');
    body += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts}"/>`;
    s.x.forEach((x, i) => {
      body += `<circle cx="${px(x).toFixed(1)}" cy="${py(s.y[i]!).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.labels?.[i] ?? x}: ${fmtAxis(s.y[i]!, s.yUnit)}`)}</title></circle>`;
    });
    body += `<rect x="${legendX}" y="${PAD.t}" width="10" height="10" fill="${c}"/><text x="${legendX + 14}" y="${PAD.t + 9}" font-size="11" fill="#111827">${esc(s.name)}</text>`;
    legendX += 14 + Math.ceil(s.name.length * CHAR_PX) + 18;
  });
  let xl = '';
  const labelled = first.labels !== undefined;
  const step = Math.max(1, Math.ceil(first.x.length / (labelled ? 12 : 8)));
  first.x.forEach((x, i) => {
    if (i % step !== 0 && i !== first.x.length - 1) return;
    const text = first.labels?.[i] ?? fmtAxis(x, first.xUnit);
    const X = px(x).toFixed(1);
    xl += labelled
      ? `<text x="${X}" y="${H - PAD.b + 14}" font-size="10" fill="#374151" text-anchor="end" transform="rotate(-30 ${X} ${H - PAD.b + 14})">${esc(text)}</text>`
      : `<text x="${X}" y="${H - PAD.b + 16}" font-size="11" fill="#374151" text-anchor="middle">${esc(text)}</text>`;
  });
  const xTitle = labelled ? '' : axisTitle(options.xTitle ?? first.xUnit, options.logX);
  return frame(title, axis, first.yUnit, body, xl, xTitle, axisTitle(options.yTitle ?? first.yUnit, options.logY), top);
}

/** A bar chart: one bar per labelled point of one series, its value written above it. */
export function barChart(title: string, s: Series, options: ChartOptions = {}): string {
  const n = s.y.length;
  const axis = options.logY ? logAxis(s.y) : linearAxis(Math.max(...s.y), s.yUnit);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const bw = (iw / n) * 0.6;
  let body = '';
  let xl = '';
  s.y.forEach((v, i) => {
    const x = PAD.l + (iw / n) * (i + 0.2);
    const h = Math.max(0, axis.frac(v)) * ih;
    const c = COLORS[i % COLORS.length]!;
    body += `<rect x="${x.toFixed(1)}" y="${(PAD.t + ih - h).toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${c}"><title>${esc(`${s.labels?.[i] ?? i}: ${v} ${s.yUnit}`)}</title></rect>`;
    body += `<text x="${(x + bw / 2).toFixed(1)}" y="${(PAD.t + ih - h - 4).toFixed(1)}" font-size="11" text-anchor="middle" fill="#111827">${esc(fmtAxis(v, s.yUnit))}</text>`;
    const cx = (x + bw / 2).toFixed(1);
    const lines = wrapLabel(s.labels?.[i] ?? String(i), Math.max(4, Math.floor(iw / n / CHAR_PX) - 1));
    xl += `<text x="${cx}" y="${H - PAD.b + 16}" font-size="11" text-anchor="middle" fill="#374151">` +
      lines.map((line, k) => `<tspan x="${cx}" dy="${k === 0 ? 0 : 13}">${esc(line)}</tspan>`).join('') + `</text>`;
  });
  return frame(title, axis, s.yUnit, body, xl, axisTitle(options.xTitle, options.logX), axisTitle(options.yTitle ?? s.yUnit, options.logY));
}

/**
 * One bar per named measurement of a result (numbers only; a measurement
 * that is missing or not a number leaves the chart out), so the chart shows
 * exactly the figures of the table beside it.
 */
export function measurementBars(r: ExperimentResult, bars: { name: string; label: string }[], unit: string): Series | null {
  const y: number[] = [];
  for (const b of bars) {
    const v = r.measurements.find((x) => x.name === b.name)?.value;
    if (typeof v !== 'number' || !Number.isFinite(v)) return null;
    y.push(v);
  }
  return { name: r.title, x: bars.map((_, i) => i), y, labels: bars.map((b) => b.label), xUnit: '', yUnit: unit };
}

/** What each unit is called on an axis. */
const UNIT_TITLE: Record<string, string> = { bytes: 'bytes', pages: 'pages', faults: 'page faults', 'ns/page': 'ns per page' };

/**
 * The charts for one experiment, or none where the table says it better
 * (3 and 9: their outcomes are errors and signals, not quantities).
 */
export function chartsFor(r: ExperimentResult): string[] {
  const s = r.series ?? [];
  const bars = (title: string, list: { name: string; label: string }[], unit: string, options: ChartOptions = {}): string[] => {
    const series = measurementBars(r, list, unit);
    return series ? [barChart(title, series, { yTitle: UNIT_TITLE[unit] ?? unit, ...options })] : [];
  };
  switch (r.id) {
    case 'zero-fill':
      return s.length ? [lineChart('RSS of the mapping against pages written', s, { xTitle: 'pages written', yTitle: 'mapping Rss (bytes)' })] : [];
    case 'dontneed-vs-munmap':
      return s.length ? [lineChart('Cost per page to give dirty pages back', s, { logX: true, logY: true, xTitle: 'dirty pages given back', yTitle: 'ns per page' })] : [];
    case 'malloc-brk':
      return s.length ? [barChart('Memory one malloc took from the kernel, by request size (fresh process)', s[0]!, { yTitle: 'bytes from the kernel' })] : [];
    case 'heap-holes':
      return s.length ? [lineChart('RSS of the probe process through the heap-holes experiment', s, { yTitle: 'process RSS (bytes)' })] : [];
    case 'exit-recovery':
      return bars('A child\'s memory before and at exit (before it is reaped)', [
        { name: 'child touched, never freed', label: 'touched, never freed' },
        { name: 'child VmRSS while alive', label: 'VmRSS while alive' },
        { name: 'free memory regained at exit, before reaping', label: 'free memory regained at exit' },
        { name: 'MemFree alone regained', label: 'MemFree alone' },
      ], 'bytes');
    case 'cow-fork':
      return bars('Parent pages exclusively mapped around a fork (256 dirty pages; the child writes 32)', [
        { name: 'parent pages exclusively mapped before fork', label: 'before fork' },
        { name: 'parent pages exclusively mapped while the child lives', label: 'while the child lives' },
        { name: 'parent pages exclusively mapped after the child exits', label: 'after the child exits' },
      ], 'pages');
    case 'kernel-memory':
      return bars('Where 1000 pipes and their data show up', [
        { name: 'Slab change creating them', label: 'Slab, creating' },
        { name: 'process RSS change creating them', label: 'RSS, creating' },
        { name: 'MemFree drop filling them', label: 'MemFree drop, filling' },
        { name: 'Slab change filling them', label: 'Slab, filling' },
        { name: 'process RSS change filling them', label: 'RSS, filling' },
      ], 'bytes');
    case 'prefault':
      // The series names the page size of the run that measured it ('ns per 16K page').
      return s.length ? [barChart(`Cost ${s[0]!.name.replace(/^ns /, '')} for each prefault method (lower is better)`, s[0]!, { yTitle: s[0]!.name })] : [];
    default:
      return s.map((x) => lineChart(x.name, [x]));
  }
}

/** The HTML page for a report. */
export function renderHtml(rep: ExperimentsReport): string {
  const badge = (v: string): string => `<span class="v ${v}">${esc(v)}</span>`;
  const rows = rep.results
    .map((r) => `<tr><td>${r.number}</td><td><a href="#${esc(r.id)}">${esc(r.question)}</a></td><td>${badge(r.verdict)}</td><td>${esc(r.condition ?? '')}</td></tr>`)
    .join('\n');
  const sections = rep.results
    .map((r) => {
      const meas = r.measurements
        .map((x) => `<tr><td>${esc(x.name)}</td><td class="num">${esc(formatValue(x))}</td><td class="src">${esc(x.source)}</td></tr>`)
        .join('');
      return `<section id="${esc(r.id)}">
<h2>${r.number}. ${esc(r.title)} ${badge(r.verdict)}</h2>
<p class="q">${esc(r.question)}</p>
<p><b>Claim:</b> ${esc(r.claim)}</p>
${r.condition ? `<p><b>${r.verdict === 'depends' ? 'When' : 'Why'}:</b> ${esc(r.condition)}</p>` : ''}
<p class="notes">${esc(r.notes)}</p>
${chartsFor(r).map((c) => `<figure>${c}</figure>`).join('\n')}
<table class="m"><thead><tr><th>measurement</th><th>value</th><th>source</th></tr></thead><tbody>${meas}</tbody></table>
<p class="meta">${r.durationMs} ms, THP mode ${esc(r.thpMode ?? 'n/a')}${r.skipped ? `, skipped: ${esc(r.skipped)}` : ''}</p>
</section>`;
    })
    .join('\n');
  const failures = rep.failures.map((f) => `<li>${f.number} ${esc(f.id)}: ${esc(f.error)}</li>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pagewise experiments — Linux ${esc(rep.kernel)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-top:1px solid #e5e7eb;padding-top:16px}
table{border-collapse:collapse;width:100%;margin:8px 0}td,th{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb}.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}.src{color:#6b7280;font-size:12px}
.v{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.confirmed{background:#16a34a}.refuted{background:#dc2626}.depends{background:#d97706}
.q{font-style:italic}.notes{color:#374151}.meta{color:#6b7280;font-size:12px}figure{margin:12px 0}
</style></head><body>
<h1>pagewise experiments</h1>
<p>Linux ${esc(rep.kernel)} ${esc(rep.arch)}, Node ${esc(rep.node)}, page size ${rep.pageSize} B, pagewise ${esc(rep.pagewise)}; ${plural(rep.results.length, 'experiment')} in ${(rep.durationMs / 1000).toFixed(1)} s, started ${esc(rep.startedAt)}.</p>
<table><thead><tr><th>#</th><th>question</th><th>verdict</th><th>condition / figures</th></tr></thead><tbody>
${rows}
</tbody></table>
${failures ? `<p><b>Failed:</b></p><ul>${failures}</ul>` : ''}
${sections}
</body></html>
`;
}

const HELP = `Usage: pagewise report --html FILE [--only ID...]

Runs the experiments and writes one self-contained HTML page (inline SVG charts,
no scripts, no network): the verdicts, every measurement with its source, and
a chart for each experiment whose figures are quantities (not those whose
outcomes are errors and signals), axes titled with their units.

Options:
  --html FILE     where to write the page (required)
  --only ID       run only this experiment (id or number; repeat for several)
  -V, --version   print the version
  -h, --help      show this help
`;

/** The `pagewise report` command. */
export const command: CliCommand = {
  name: 'report',
  summary: 'run the experiments and write a self-contained HTML report with SVG charts',
  async run(argv) {
    const parsed = parseCommand('report', argv, { html: { type: 'string' }, only: { type: 'string', multiple: true } }, HELP);
    if (!parsed) return EXIT.ok;
    const { values } = parsed;
    if (!values.html) throw new UsageError('report needs --html FILE', 'report');
    const only = onlyNames('report', values.only);
    // The file must be writable before minutes of experiments run: open it now (appending nothing), and
    // take an empty file this made away again if the run fails.
    const existed = fs.existsSync(values.html);
    fs.closeSync(fs.openSync(values.html, 'a'));
    if (!existed) process.once('exit', (code) => code !== EXIT.ok && fs.statSync(values.html!, { throwIfNoEntry: false })?.size === 0 && fs.rmSync(values.html!, { force: true }));
    const bar = progress();
    const rep = collect(only, (e, i, n) => bar.update(`[${i + 1}/${n}] ${e.title}...`));
    bar.done();
    fs.writeFileSync(values.html, renderHtml(rep));
    process.stdout.write(`wrote ${values.html}: ${plural(rep.results.length, 'experiment')}${rep.failures.length ? `, ${rep.failures.length} failed` : ''}\n`);
    for (const f of rep.failures) process.stderr.write(`pagewise: experiment ${f.id} failed: ${f.error}\n`);
    return rep.failures.length ? EXIT.failure : EXIT.ok;
  },
};
