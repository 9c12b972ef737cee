#!/usr/bin/env node
/**
 * The `pagewise` command. Each command lives in lib/cli/<name>.ts and exports
 * `command: CliCommand`; this file only dispatches.
 */
import type { CliCommand } from './cli/types';
import { command as system } from './cli/system';
import { command as experiments } from './cli/experiments';
import { command as map } from './cli/map';
import { command as report } from './cli/report';
import { command as bench } from './cli/bench';

const commands: Record<string, CliCommand> = { experiments, map, report, system, bench };

function usage(): string {
  const lines = Object.values(commands).map((c) => `  ${c.name.padEnd(12)} ${c.summary}`);
  return `Usage: pagewise <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'pagewise <command> --help' for a command's options.\n`;
}

/** Default command when none is given (what `npm start` runs). */
const DEFAULT = 'experiments';

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  const name = first === undefined || first.startsWith('-') ? DEFAULT : first;
  const args = first === undefined || first.startsWith('-') ? argv : rest;
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`pagewise: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  return cmd.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error & { code?: string };
    process.stderr.write(`pagewise: ${e && e.message ? e.message.split('\n')[0] : String(err)}${e && e.code ? ` (${e.code})` : ''}\n`);
    if (process.env.PAGEWISE_DEBUG) console.error(err);
    process.exitCode = 1;
  },
);
