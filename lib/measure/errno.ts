/** Errno numbers the measurement fallbacks name (Linux, every architecture pagewise supports). @internal */
import * as os from 'node:os';

/** @internal errno number to name, from Node's own table. */
export const ErrnoNames: Record<number, string> = Object.fromEntries(
  Object.entries(os.constants.errno).map(([name, n]) => [n, name]),
);
