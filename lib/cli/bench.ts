/**
 * `pagewise bench [--only NAME...] [--json] [--quick] [--runs N]`: runs the
 * benchmarks, a table per benchmark on stdout (or JSON), progress on stderr
 * when stderr is a terminal.
 */
import * as os from 'node:os';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliCommand } from './types';
import { benchmarks, runBenchmarks } from '../bench/registry';
import { formatResult, formatTargets, formatMarkdown } from '../bench/format';
import { betweenSamples, type Progress } from '../bench/harness';
import { pageSize } from '../system';

const HELP = `Usage: pagewise bench [options]

Runs pagewise's benchmarks. Each contender is sampled once per round, the
rounds interleave the subject with its baselines (a C loop doing the same
system calls, and the Node built-in a user would pick), and ratios are taken
round by round.

Options:
  --only NAME    run only this benchmark or group (repeatable)
  --quick        tiny sizes, one round: a smoke test, not figures
  --runs N       rounds per benchmark (default: each benchmark's own)
  --json         print the results as JSON on stdout
  --markdown     print a Markdown table (as in BENCHMARKS.md)
  --list         list the benchmarks and exit
  -h, --help     show this help
`;

/** Conditions of a run, printed with it. */
export function benchConditions(): Record<string, string | number> {
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      return 'unknown';
    }
  };
  const thp = /\[([^\]]+)\]/.exec(read('/sys/kernel/mm/transparent_hugepage/enabled'));
  const cpu = os.cpus();
  return {
    kernel: `${os.type()} ${os.release()} ${os.machine()}`,
    cpu: `${cpu.length} x ${cpu[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    pageSize: pageSize(),
    thp: thp ? thp[1]! : 'unknown',
    loadAverage: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    betweenSamples: betweenSamples(),
  };
}

async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        only: { type: 'string', multiple: true },
        quick: { type: 'boolean' },
        runs: { type: 'string' },
        json: { type: 'boolean' },
        markdown: { type: 'boolean' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`pagewise bench: ${(err as Error).message}\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.list) {
    for (const b of benchmarks) process.stdout.write(`${b.name.padEnd(26)} ${b.group.padEnd(9)} ${b.title}\n`);
    return 0;
  }
  let runs: number | undefined;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1) {
      process.stderr.write(`pagewise bench: --runs must be a positive integer, got '${values.runs}'\n`);
      return 2;
    }
  }
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  const onProgress = (p: Progress): void => {
    const round = p.round < 0 ? 'warm-up' : `round ${p.round + 1}/${p.runs}`;
    process.stderr.write(`\r\x1b[K[${p.index + 1}/${p.total}] ${p.benchmark} ${round}`);
  };
  const conditions = benchConditions();
  const results = runBenchmarks({
    ...(values.only ? { only: values.only } : {}),
    ...(runs !== undefined ? { runs } : {}),
    quick: values.quick === true,
    ...(tty ? { onProgress } : {}),
  });
  if (tty) process.stderr.write('\r\x1b[K');
  const seconds = (Date.now() - started) / 1000;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ conditions, seconds, results }, null, 2)}\n`);
    return 0;
  }
  const cond = Object.entries(conditions).map(([k, v]) => `${k}: ${v}`).join(', ');
  if (values.markdown) {
    process.stdout.write(`${cond}\n\n${formatMarkdown(results)}\n${formatTargets(results)}`);
    return 0;
  }
  process.stdout.write(`${cond}\n\n`);
  for (const r of results) process.stdout.write(`${formatResult(r)}\n`);
  const targets = formatTargets(results);
  if (targets) process.stdout.write(`Targets:\n${targets}`);
  process.stdout.write(`(${results.length} benchmarks in ${seconds.toFixed(1)} s${values.quick ? ', quick: not figures' : ''})\n`);
  return 0;
}

/** The `bench` command. */
export const command: CliCommand = { name: 'bench', summary: 'benchmarks beside their C and Node baselines', run };
