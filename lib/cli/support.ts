/**
 * What every `pagewise` command shares, in one place: argument parsing
 * (node:util parseArgs, plus `--help` and `--version` on every command), the
 * exit-code rule, the terminal's width, text wrapping and tables that fit it,
 * progress on stderr (only when it is a terminal) and colour (node:util
 * styleText, only on a terminal that wants it).
 *
 * The exit-code rule: 0 success, 2 a usage error (a {@link UsageError}: a bad
 * flag, a bad value, a missing argument), 1 any other failure. lib/cli.ts
 * applies it; commands only throw.
 * @internal
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, styleText, type ParseArgsConfig } from 'node:util';
import { packageRoot } from '../native/package-root';

/** Exit codes, the same for every command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A mistake in how the command was called: exits with {@link EXIT.usage} and points at `--help`. */
export class UsageError extends Error {
  /** The command whose `--help` to point at (`''` for `pagewise` itself). */
  readonly command: string;
  constructor(message: string, command = '') {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** The exit code for an error a command threw: 2 for a usage error, 1 for anything else. */
export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? EXIT.usage : EXIT.failure;
}

/** The one-line message printed for an error, with the hint a usage error gets. */
export function errorLine(err: unknown): string {
  const e = err as Error & { code?: string };
  const text = e && e.message ? e.message.split('\n')[0]! : String(err);
  if (err instanceof UsageError) return `pagewise${err.command ? ` ${err.command}` : ''}: ${text} (see 'pagewise${err.command ? ` ${err.command}` : ''} --help')`;
  return `pagewise: ${text}${e && e.code ? ` (${e.code})` : ''}`;
}

/** This package's version, from its package.json. */
export function version(): string {
  const root = packageRoot();
  try {
    return root ? (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What `--version` prints. */
export function versionLine(): string {
  return `pagewise ${version()} (Node ${process.version}, ${process.platform}-${process.arch})\n`;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The options every command takes. */
const COMMON: Options = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

/**
 * Parses a command's arguments with node:util parseArgs (strict, no
 * positionals unless asked). Returns `null` when `--help` or `--version` was
 * handled (the command then exits 0); a parse failure is a {@link UsageError}.
 */
export function parseCommand<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  help: string,
  allowPositionals = false,
): { values: { [K in keyof O]?: O[K] extends { multiple: true } ? (O[K] extends { type: 'string' } ? string[] : boolean[]) : O[K] extends { type: 'string' } ? string : boolean }; positionals: string[] } | null {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON, ...options }, strict: true, allowPositionals });
  } catch (err) {
    const message = (err as Error).message;
    // parseArgs takes a value that starts with '-' for another option ("argument is ambiguous"): say what to write.
    const flag = /^Option '(-[^']+)' argument is ambiguous/.exec(message)?.[1];
    if (flag !== undefined) {
      const at = argv.findIndex((a) => a === flag || a.split(',').includes(flag));
      const value = at >= 0 ? argv[at + 1] : undefined;
      const long = flag.startsWith('--') ? flag : `--${Object.entries({ ...COMMON, ...options }).find(([, o]) => `-${(o as { short?: string }).short}` === flag)?.[0] ?? flag}`;
      throw new UsageError(`${flag} needs a value, and '${value ?? ''}' looks like an option: write ${long}=${value ?? '...'} to give it`, command);
    }
    throw new UsageError(message.split('\n')[0]!.replace(/\. To specify a positional argument starting with a '-'.*$/, ''), command);
  }
  const v = parsed.values as Record<string, unknown>;
  if (v.help) {
    process.stdout.write(help);
    return null;
  }
  if (v.version) {
    process.stdout.write(versionLine());
    return null;
  }
  return parsed as never;
}

/** A positive integer from a flag's text, or a {@link UsageError} naming the flag and the range. */
export function intFlag(command: string, flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got '${text}'`, command);
  return n;
}

/** The terminal's width: `process.stdout.columns`, or 80 when stdout is not a terminal. */
export function terminalWidth(stream: { columns?: number } = process.stdout): number {
  const c = stream.columns;
  return typeof c === 'number' && Number.isInteger(c) && c > 0 ? c : 80;
}

export { wrap, table } from '../format';

/** Whether to colour stdout: a terminal, and neither NO_COLOR nor NODE_DISABLE_COLORS set. */
export function colour(stream: { isTTY?: boolean } = process.stdout): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR && !process.env.NODE_DISABLE_COLORS;
}

/** `text` styled with node:util styleText when stdout takes colour, else as is. */
export function styled(format: Parameters<typeof styleText>[0], text: string): string {
  return colour() ? styleText(format, text) : text;
}

/**
 * A progress line on stderr, only when stderr is a terminal (rewritten in
 * place); `done()` clears it. Piped or redirected stderr gets nothing.
 */
export function progress(stream: NodeJS.WriteStream = process.stderr): { update(text: string): void; done(): void } {
  const tty = stream.isTTY === true;
  return {
    update(text: string): void {
      if (tty) stream.write(`\r\x1b[K${text.slice(0, Math.max(10, terminalWidth(stream) - 1))}`);
    },
    done(): void {
      if (tty) stream.write('\r\x1b[K');
    },
  };
}
