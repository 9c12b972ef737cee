#!/usr/bin/env node
/**
 * The `pagewise` command. Each command lives in lib/cli/<name>.ts and exports
 * `command: CliCommand`; this file only dispatches and applies the one
 * exit-code rule (lib/cli/support.ts): 0 success, 2 usage error, 1 failure.
 */
import type { CliCommand } from './cli/command';
import { EXIT, UsageError, errorLine, exitCodeOf, terminalWidth, versionLine, wrap } from './cli/support';
import { command as system } from './cli/system-report';
import { command as experiments } from './cli/experiments';
import { command as map } from './cli/map';
import { command as report } from './cli/report';
import { command as bench } from './cli/bench';
import { command as explain } from './cli/explain';

const commands: Record<string, CliCommand> = { experiments, map, report, system, bench, explain };

function usage(): string {
  const width = terminalWidth();
  const lines = Object.values(commands).flatMap((c) => wrap(c.summary, width, ' '.repeat(15), `  ${c.name.padEnd(12)} `));
  return [
    'Usage: pagewise <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    ...wrap("Run 'pagewise <command> --help' for a command's options, 'pagewise --version' for the version. Exit status: 0 success, 1 failure, 2 usage error.", width),
    '',
  ].join('\n');
}

/** Default command when none is given (what `npm start` runs). */
const DEFAULT = 'experiments';

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(usage());
    return EXIT.ok;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(versionLine());
    return EXIT.ok;
  }
  const name = first === undefined || first.startsWith('-') ? DEFAULT : first;
  const args = first === undefined || first.startsWith('-') ? argv : rest;
  const cmd = commands[name];
  if (!cmd) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`);
  return cmd.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${errorLine(err)}\n`);
    if (process.env.PAGEWISE_DEBUG) console.error(err);
    process.exitCode = exitCodeOf(err);
  },
);
