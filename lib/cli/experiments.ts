/**
 * `pagewise experiments`: runs the experiments, shows progress on stderr
 * (only on a terminal), prints a table, `--json` or `--markdown`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { CliCommand } from './types';
import { experiments, findExperiments } from '../experiments/registry';
import { fmtBytes, packageRoot } from '../experiments/common';
import { pageSize } from '../system';
import type { Experiment, ExperimentResult, ExperimentMeasurement } from '../experiments/types';

/** A failed experiment (it threw): reported, the others still run. */
export interface ExperimentFailure {
  id: string;
  number: number;
  error: string;
}

/** What `--json` prints. */
export interface ExperimentsReport {
  pagewise: string;
  kernel: string;
  arch: string;
  node: string;
  pageSize: number;
  startedAt: string;
  durationMs: number;
  results: ExperimentResult[];
  failures: ExperimentFailure[];
}

function version(): string {
  const root = packageRoot();
  try {
    return root ? (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs experiments with an optional progress callback, catching each one's failure. */
export function collect(only: string[], progress?: (e: Experiment, i: number, n: number) => void): ExperimentsReport {
  const list = findExperiments(only);
  const t0 = Date.now();
  const results: ExperimentResult[] = [];
  const failures: ExperimentFailure[] = [];
  list.forEach((e, i) => {
    progress?.(e, i, list.length);
    try {
      results.push(e.run());
    } catch (err) {
      failures.push({ id: e.id, number: e.number, error: (err as Error).message.split('\n')[0] ?? String(err) });
    }
  });
  return {
    pagewise: version(),
    kernel: os.release(),
    arch: process.arch,
    node: process.version,
    pageSize: pageSize(),
    startedAt: new Date(t0).toISOString(),
    durationMs: Date.now() - t0,
    results,
    failures,
  };
}

/** One measurement as text: bytes humanised, other units appended. */
export function formatValue(x: ExperimentMeasurement): string {
  if (x.value === null) return 'n/a';
  if (typeof x.value === 'number' && x.unit === 'bytes') return fmtBytes(x.value);
  if (typeof x.value === 'boolean') return x.value ? 'yes' : 'no';
  const unit = x.unit && x.unit !== '' ? ` ${x.unit}` : '';
  return `${x.value}${unit}`;
}

function keyFigures(r: ExperimentResult): string[] {
  const out: string[] = [];
  for (const name of r.key) {
    const x = r.measurements.find((mm) => mm.name === name);
    if (x) out.push(`${x.name}: ${formatValue(x)}`);
  }
  if (r.skipped) out.push(`skipped: ${r.skipped}`);
  return out;
}

function wrap(text: string, width: number): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

/** The readable table. */
export function formatTable(rep: ExperimentsReport, width = 100): string {
  const out: string[] = [];
  out.push(`pagewise ${rep.pagewise} experiments — Linux ${rep.kernel} ${rep.arch}, Node ${rep.node}, page ${rep.pageSize} B, THP ${rep.results[0]?.thpMode ?? 'n/a'}`);
  out.push('');
  out.push(`${' #'.padEnd(4)}${'experiment'.padEnd(34)}${'verdict'.padEnd(11)}key figures`);
  out.push('-'.repeat(Math.min(width, 110)));
  const figWidth = Math.max(40, width - 49);
  for (const r of rep.results) {
    const figs = keyFigures(r);
    out.push(`${String(r.number).padStart(2).padEnd(4)}${r.title.slice(0, 33).padEnd(34)}${r.verdict.padEnd(11)}${figs[0] ?? ''}`);
    for (const f of figs.slice(1)) out.push(`${''.padEnd(49)}${f}`);
    if (r.condition) for (const l of wrap(`${r.verdict === 'depends' ? 'when' : 'why'}: ${r.condition}`, figWidth)) out.push(`${''.padEnd(49)}${l}`);
    out.push('');
  }
  for (const f of rep.failures) out.push(`${String(f.number).padStart(2).padEnd(4)}${f.id.padEnd(34)}${'FAILED'.padEnd(11)}${f.error}`);
  const counts = { confirmed: 0, refuted: 0, depends: 0 };
  for (const r of rep.results) counts[r.verdict]++;
  out.push(`${rep.results.length} experiments in ${(rep.durationMs / 1000).toFixed(1)} s: ${counts.confirmed} confirmed, ${counts.refuted} refuted, ${counts.depends} depends${rep.failures.length ? `, ${rep.failures.length} failed` : ''}.`);
  return out.join('\n');
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** A Markdown table (for the README). */
export function formatMarkdown(rep: ExperimentsReport): string {
  const out: string[] = [];
  out.push(`Linux ${rep.kernel} ${rep.arch}, Node ${rep.node}, page size ${rep.pageSize} B, THP \`${rep.results[0]?.thpMode ?? 'n/a'}\`; ${rep.results.length} experiments in ${(rep.durationMs / 1000).toFixed(1)} s.`);
  out.push('');
  out.push('| # | Question | Verdict | Key figures |');
  out.push('|---|---|---|---|');
  for (const r of rep.results) {
    const figs = keyFigures(r).map(mdEscape).join('<br>');
    const cond = r.condition ? `<br>*${r.verdict === 'depends' ? 'When' : 'Why'}:* ${mdEscape(r.condition)}` : '';
    out.push(`| ${r.number} | ${mdEscape(r.question)} | **${r.verdict}** | ${figs}${cond} |`);
  }
  for (const f of rep.failures) out.push(`| ${f.number} | ${f.id} | **failed** | ${mdEscape(f.error)} |`);
  return out.join('\n');
}

const HELP = `Usage: pagewise experiments [--only ID...] [--json | --markdown]

Runs the experiments on this machine's real memory and prints a verdict for each
claim with the figures it was computed from.

Options:
  --only ID     run only this experiment (id or number; repeat for several)
  --list        list the experiments and exit
  --json        print the full results as JSON
  --markdown    print the table as Markdown
  -h, --help    show this help

Experiments:
${experiments.map((e) => `  ${String(e.number).padStart(2)} ${e.id.padEnd(22)} ${e.question}`).join('\n')}
`;

/** The `pagewise experiments` command. */
export const command: CliCommand = {
  name: 'experiments',
  summary: 'run the ten experiments (ZFOD, DONTNEED, overcommit, malloc, heap holes, exit, COW, kernel memory, RLIMIT_DATA, prefault)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        only: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        markdown: { type: 'boolean' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (values.list) {
      process.stdout.write(`${experiments.map((e) => `${String(e.number).padStart(2)} ${e.id.padEnd(22)} ${e.title}`).join('\n')}\n`);
      return 0;
    }
    if (values.json && values.markdown) throw new Error('choose one of --json and --markdown');
    const only = (values.only ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
    findExperiments(only); // validates the names before anything runs
    const tty = process.stderr.isTTY === true;
    const rep = collect(only, (e, i, n) => {
      if (tty) process.stderr.write(`\r\x1b[K[${i + 1}/${n}] ${e.title}...`);
    });
    if (tty) process.stderr.write('\r\x1b[K');
    if (values.json) process.stdout.write(`${JSON.stringify(rep, null, 2)}\n`);
    else if (values.markdown) process.stdout.write(`${formatMarkdown(rep)}\n`);
    else process.stdout.write(`${formatTable(rep, process.stdout.columns || 110)}\n`);
    for (const f of rep.failures) process.stderr.write(`pagewise: experiment ${f.id} failed: ${f.error}\n`);
    return rep.failures.length ? 1 : 0;
  },
};
