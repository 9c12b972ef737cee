/**
 * `pagewise experiments`: runs the experiments, shows progress on stderr
 * (only on a terminal), prints a table, `--json` or `--markdown`.
 */
import type { CliCommand } from './command';
import { EXIT, UsageError, intFlag, parseCommand, progress, styled, terminalWidth, wrap } from './support';
import { experiments } from '../experiments';
import { fmtBytes, plural } from '../format';
import type { ExperimentResult, ExperimentMeasurement } from '../experiments';
import { collect, type ExperimentsReport } from './experiments-collect';
import { formatRepeat, formatRepeatMarkdown, repeatExperiments } from './experiments-repeat';

export { collect, type ExperimentFailure, type ExperimentsReport } from './experiments-collect';

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

const VERDICT_STYLE = { confirmed: 'green', refuted: 'red', depends: 'yellow' } as const;

/**
 * The readable table, fitted to `width` columns (the terminal's, 80 when
 * unknown): one line per experiment (number, title, verdict), then its key
 * figures and its reason, each wrapped under it with a hanging indent.
 */
export function formatTable(rep: ExperimentsReport, width = 80): string {
  const out: string[] = [];
  out.push(...wrap(`pagewise ${rep.pagewise} experiments — Linux ${rep.kernel} ${rep.arch}, Node ${rep.node}, page ${rep.pageSize} B, THP ${rep.results[0]?.thpMode ?? 'n/a'}`, width, '  '));
  out.push('');
  const titleWidth = Math.max(10, Math.min(34, width - 4 - 2 - 'confirmed'.length));
  const indent = '      ';
  for (const r of rep.results) {
    // A long title wraps under itself (never cut): the verdict follows its last line.
    const titleLines = wrap(r.title, titleWidth + 4, '    ', `${String(r.number).padStart(2)}  `);
    const lastLine = titleLines.pop()!;
    out.push(...titleLines, `${lastLine.padEnd(titleWidth + 4)}  ${styled(VERDICT_STYLE[r.verdict], r.verdict)}`);
    for (const f of keyFigures(r)) out.push(...wrap(f, width, `${indent}  `, indent));
    if (r.condition) out.push(...wrap(`${r.verdict === 'depends' ? 'when' : 'why'}: ${r.condition}`, width, `${indent}  `, indent));
    out.push('');
  }
  for (const f of rep.failures) {
    out.push(`${String(f.number).padStart(2)}  ${f.id.padEnd(titleWidth)}  ${styled('red', 'FAILED')}`);
    out.push(...wrap(f.error, width, `${indent}  `, indent));
  }
  const counts = { confirmed: 0, refuted: 0, depends: 0 };
  for (const r of rep.results) counts[r.verdict]++;
  out.push(...wrap(`${plural(rep.results.length, 'experiment')} in ${(rep.durationMs / 1000).toFixed(1)} s: ${counts.confirmed} confirmed, ${counts.refuted} refuted, ${counts.depends} depends${rep.failures.length ? `, ${rep.failures.length} failed` : ''}.`, width));
  return out.join('\n');
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** A Markdown table (for docs/experiments.md and the report). */
export function formatMarkdown(rep: ExperimentsReport): string {
  const out: string[] = [];
  out.push(`Linux ${rep.kernel} ${rep.arch}, Node ${rep.node}, page size ${rep.pageSize} B, THP \`${rep.results[0]?.thpMode ?? 'n/a'}\`; ${plural(rep.results.length, 'experiment')} in ${(rep.durationMs / 1000).toFixed(1)} s.`);
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

const HELP = `Usage: pagewise experiments [--only ID...] [--repeat N] [--json | --markdown]

Runs the experiments on this machine's real memory and prints a verdict for each
claim with the figures it was computed from.

Options:
  --only ID       run only this experiment (id or number; repeat for several)
  --repeat N      run them N times in a row (1-100) and print experiment x run
                  -> verdict, whether each verdict held in every run
                  ('inconclusive' counted as its own verdict), and the load
                  average; exits 1 when any verdict changed
  --list          list the experiments and exit
  --json          print the full results as JSON
  --markdown      print the table as Markdown
  -V, --version   print the version
  -h, --help      show this help

Experiments:
${experiments.map((e) => `  ${String(e.number).padStart(2)} ${e.id.padEnd(22)} ${e.title}`).join('\n')}
`;

/** The `pagewise experiments` command. */
export const command: CliCommand = {
  name: 'experiments',
  summary: `run the ${experiments.length} experiments (${experiments.map((e) => e.id).join(', ')})`,
  async run(argv) {
    const parsed = parseCommand('experiments', argv, {
      only: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      markdown: { type: 'boolean' },
      list: { type: 'boolean' },
      repeat: { type: 'string' },
    }, HELP);
    if (!parsed) return EXIT.ok;
    const { values } = parsed;
    if (values.list) {
      process.stdout.write(`${experiments.map((e) => `${String(e.number).padStart(2)} ${e.id.padEnd(22)} ${e.title}`).join('\n')}\n`);
      return EXIT.ok;
    }
    if (values.json && values.markdown) throw new UsageError('choose one of --json and --markdown', 'experiments');
    const only = onlyNames('experiments', values.only);
    const runs = values.repeat === undefined ? null : intFlag('experiments', '--repeat', values.repeat, 1, 1, 100);
    const bar = progress();
    if (runs !== null) {
      const rep = repeatExperiments(only, runs, (k, e, i, n) => bar.update(`run ${k + 1}/${runs} [${i + 1}/${n}] ${e.title}...`));
      bar.done();
      if (values.json) process.stdout.write(`${JSON.stringify(rep, null, 2)}\n`);
      else process.stdout.write(`${values.markdown ? formatRepeatMarkdown(rep) : formatRepeat(rep)}\n`);
      for (const r of rep.rows) if (!r.held) process.stderr.write(`pagewise: experiment ${r.id} did not give the same verdict in every run: ${r.verdicts.join(', ')}\n`);
      return rep.rows.every((r) => r.held) ? EXIT.ok : EXIT.failure;
    }
    const rep = collect(only, (e, i, n) => bar.update(`[${i + 1}/${n}] ${e.title}...`));
    bar.done();
    if (values.json) process.stdout.write(`${JSON.stringify(rep, null, 2)}\n`);
    else if (values.markdown) process.stdout.write(`${formatMarkdown(rep)}\n`);
    else process.stdout.write(`${formatTable(rep, terminalWidth())}\n`);
    for (const f of rep.failures) process.stderr.write(`pagewise: experiment ${f.id} failed: ${f.error}\n`);
    return rep.failures.length ? EXIT.failure : EXIT.ok;
  },
};

/** `--only` values (repeated or comma-separated), checked against the registry: an unknown name is a usage error. */
export function onlyNames(command: string, only: string[] | undefined): string[] {
  const names = (only ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const name of names) {
    if (!experiments.some((x) => x.id === name || String(x.number) === name)) {
      throw new UsageError(`--only ${name}: no such experiment. Name one by number or id: ${experiments.map((x) => `${x.number} ${x.id}`).join(', ')}`, command);
    }
  }
  return names;
}
