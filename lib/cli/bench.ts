/**
 * `pagewise bench [--only NAME...] [--json] [--quick] [--runs N]`: runs the
 * benchmarks, a table per benchmark on stdout (or JSON), progress on stderr
 * when stderr is a terminal.
 */
import * as os from 'node:os';
import type { CliCommand } from './command';
import { EXIT, UsageError, intFlag, parseCommand, progress, styled, terminalWidth, wrap } from './support';
import { benchmarks, runBenchmarks, formatResult, formatTargets, formatMarkdown, type Progress } from '../bench';
import { betweenSamples } from '../measure/gc';
import { pageSize } from '../kernel/system';
import { thpMode } from '../kernel/facts';

const HELP = `Usage: pagewise bench [options]

Runs pagewise's benchmarks. Each contender is sampled once per round, the
rounds interleave the subject with its baselines (a C loop doing the same
system calls, and the Node built-in a user would pick), and ratios are taken
round by round: each is printed as its median with a ~95% interval,
'1.46x [1.29–1.60x]', and a target is MET when the whole interval is within
it, MISSED when all of it is beyond, UNDECIDED when it spans the target.

Options:
  --only NAME    run only this benchmark or group (repeatable)
  --quick         tiny sizes, one unwarmed round: a smoke test whose figures
                  are indicative only (targets are not judged)
  --runs N        rounds per benchmark (default: each benchmark's own)
  --json          print the results as JSON on stdout
  --markdown      print a Markdown table (as in BENCHMARKS.md)
  --list          list the benchmarks and exit
  -V, --version   print the version
  -h, --help      show this help
`;

/** Conditions of a run, printed with it. */
export function benchConditions(): Record<string, string | number> {
  const cpu = os.cpus();
  return {
    kernel: `${os.type()} ${os.release()} ${os.machine()}`,
    cpu: `${cpu.length} x ${cpu[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    pageSize: pageSize(),
    thp: thpMode() ?? 'unknown',
    loadAverage: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    betweenSamples: betweenSamples(),
  };
}

async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('bench', argv, {
    only: { type: 'string', multiple: true },
    quick: { type: 'boolean' },
    runs: { type: 'string' },
    json: { type: 'boolean' },
    markdown: { type: 'boolean' },
    list: { type: 'boolean' },
  }, HELP);
  if (!parsed) return EXIT.ok;
  const { values } = parsed;
  if (values.list) {
    for (const b of benchmarks) process.stdout.write(`${b.name.padEnd(26)} ${b.group.padEnd(9)} ${b.title}\n`);
    return EXIT.ok;
  }
  if (values.json && values.markdown) throw new UsageError('choose one of --json and --markdown', 'bench');
  const runs = values.runs === undefined ? undefined : intFlag('bench', '--runs', values.runs, 1, 1, 100000);
  const only = (values.only ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const name of only) {
    if (!benchmarks.some((b) => b.name === name || b.group === name)) {
      const groups = [...new Set(benchmarks.map((b) => b.group))].join(', ');
      throw new UsageError(`--only ${name}: no such benchmark or group. Groups: ${groups}; 'pagewise bench --list' names every benchmark`, 'bench');
    }
  }
  const bar = progress();
  const started = Date.now();
  const conditions = benchConditions();
  const results = runBenchmarks({
    ...(only.length > 0 ? { only } : {}),
    ...(runs !== undefined ? { runs } : {}),
    quick: values.quick === true,
    onProgress: (p: Progress) => bar.update(`[${p.index + 1}/${p.total}] ${p.benchmark} ${p.round < 0 ? 'warm-up' : `round ${p.round + 1}/${p.runs}`}`),
  });
  bar.done();
  const seconds = (Date.now() - started) / 1000;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ conditions, seconds, quick: values.quick === true, results }, null, 2)}\n`);
    return EXIT.ok;
  }
  const width = terminalWidth();
  const cond = Object.entries(conditions).map(([k, v]) => `${k}: ${v}`).join(', ');
  const quickNote = 'quick run: one unwarmed round at tiny sizes, so every figure is indicative only and no target is judged (run without --quick for figures)';
  if (values.markdown) {
    process.stdout.write(`${values.quick ? `${quickNote}\n\n` : ''}${cond}\n\n${formatMarkdown(results)}\n${formatTargets(results, width)}`);
    return EXIT.ok;
  }
  const out: string[] = [];
  if (values.quick) out.push(...wrap(styled('yellow', quickNote), width, '  '), '');
  out.push(...wrap(cond, width, '  '), '');
  for (const r of results) out.push(formatResult(r, width));
  const targets = formatTargets(results, width);
  if (targets) out.push(`Targets${values.quick ? ' (indicative: not judged in a quick run)' : ''}:\n${targets}`);
  if (targets && !values.quick) {
    // What a verdict says, so that a MISSED is not read as a fault of the user's machine.
    out.push(...wrap(
      'The targets are what pagewise holds itself to (BENCHMARKS.md): each ratio is pagewise against the baseline on the same line, run interleaved on this machine. ' +
        'MET: the whole interval is within the target; MISSED: it is entirely above, so pagewise costs more than it means to against that baseline here (BENCHMARKS.md says which misses are known and why); ' +
        'UNDECIDED: the interval spans the target, usually from load (run again on a quieter machine or with more --runs). None of them means something is wrong with this machine.',
      width,
    ), '');
  }
  out.push(`(${results.length} benchmarks in ${seconds.toFixed(1)} s${values.quick ? ', quick: indicative only' : ''})\n`);
  process.stdout.write(out.join('\n'));
  return EXIT.ok;
}

/** The `bench` command. */
export const command: CliCommand = { name: 'bench', summary: 'benchmarks beside their C and Node baselines', run };
