/** A `pagewise` CLI command. @internal */
export interface CliCommand {
  /** Name typed after `pagewise`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Runs with the arguments after the command name; resolves to the exit code. Parses with node:util parseArgs and handles --help itself. */
  run(argv: string[]): Promise<number>;
}
