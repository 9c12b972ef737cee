/**
 * `pagewise report --html FILE`: runs the experiments and writes one
 * self-contained HTML page (inline CSS and SVG charts from ./charts, no
 * scripts, no network).
 */
import * as fs from 'node:fs';
import type { CliCommand } from './command';
import { collect, formatValue, onlyNames, type ExperimentsReport } from './experiments';
import { EXIT, UsageError, parseCommand, progress } from './support';
import { plural } from '../format';
import type { ExperimentResult, Series } from '../experiments';
import { barChart, esc, groupedBarChart, lineChart, spreadCaption, unitTitle, type ChartOptions } from './charts';

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

/** A chart and the sentence under it that says what its points are (medians of trials, or one run). */
export interface Chart {
  svg: string;
  caption: string;
}

function chart(svg: string, series: Series[]): Chart {
  return { svg, caption: spreadCaption(series) };
}

/**
 * Whether series are contenders measured at the same points in the same
 * unit (so they belong on one chart, on one scale).
 */
function contenders(s: Series[]): boolean {
  const first = s[0];
  return s.length > 1 && first !== undefined && s.every((x) => x.yUnit === first.yUnit && x.x.length === first.x.length && x.x.every((v, i) => v === first.x[i]));
}

/**
 * The charts for one experiment, or none where the table says it better
 * (3 and 9: their outcomes are errors and signals, not quantities).
 * Contenders (2, 11, 12) share one chart and one scale.
 */
export function chartsFor(r: ExperimentResult): Chart[] {
  const s = r.series ?? [];
  const bars = (title: string, list: { name: string; label: string }[], unit: string, options: ChartOptions = {}): Chart[] => {
    const series = measurementBars(r, list, unit);
    return series ? [chart(barChart(title, series, { yTitle: unitTitle(unit), ...options }), [series])] : [];
  };
  if (s.length === 0 && !['exit-recovery', 'cow-fork', 'kernel-memory'].includes(r.id)) return [];
  switch (r.id) {
    case 'zero-fill':
      return [chart(lineChart('RSS of the mapping against pages written', s, { xTitle: 'pages written', yTitle: 'mapping Rss' }), s)];
    case 'dontneed-vs-munmap':
      return [chart(lineChart('Time per page to give dirty pages back', s, { logX: true, logY: true, xTitle: 'dirty pages given back', yTitle: 'time per page' }), s)];
    case 'malloc-brk':
      return [chart(barChart('Memory one malloc took from the kernel, by request size (fresh process)', s[0]!, { yTitle: 'bytes from the kernel' }), [s[0]!])];
    case 'heap-holes':
      return [chart(lineChart('RSS of the probe process through the heap-holes experiment', s, { yTitle: 'process RSS' }), s)];
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
      return [chart(barChart(`Time ${s[0]!.name.replace(/^ns /, '')} for each prefault method (lower is better)`, s[0]!, { yTitle: s[0]!.name.replace(/^ns /, 'time ') }), [s[0]!])];
    case 'guard-pages':
      return [chart(groupedBarChart('Time per guard page: PROT_NONE against MADV_GUARD_INSTALL', s, { xTitle: 'guards placed in one mapping', yTitle: 'time per guard' }), s)];
    case 'batched-madvise':
      return [chart(groupedBarChart('Time per range given back: madvise loop against process_madvise', s, { xTitle: 'ranges given back', yTitle: 'time per range' }), s)];
    default:
      // Contenders on one chart; unrelated series each on their own.
      return contenders(s) ? [chart(groupedBarChart(r.title, s), s)] : s.map((x) => chart(lineChart(x.name, [x]), [x]));
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
${chartsFor(r).map((c) => `<figure>${c.svg}<figcaption>${esc(c.caption)}</figcaption></figure>`).join('\n')}
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
.q{font-style:italic}.notes{color:#374151}.meta{color:#6b7280;font-size:12px}figure{margin:12px 0}figcaption{color:#4b5563;font-size:12px;max-width:640px}
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
outcomes are errors and signals), axes titled with their units. Contenders
share one chart and one scale; each chart says whether its points are medians
of repeated trials (whiskers: lowest to highest) or one run.

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
