// The command line of the scripts in this folder, read with node:util's
// parseArgs: an unknown flag or a bad value stops the script with a one-line
// message on stderr and exit status 2 (no stack trace).
'use strict';
const { parseArgs } = require('node:util');

/** Parses process.argv with `options` (parseArgs' spec); `name` prefixes the messages. */
function scriptArgs(name, options) {
  let values;
  try {
    values = parseArgs({ options }).values;
  } catch (e) {
    fail(name, e.message);
  }
  return {
    values,
    /** The flag as a whole number >= 1, or `fallback` when it is absent. */
    rounds(flag, fallback) {
      const v = values[flag];
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) fail(name, `--${flag} must be a whole number >= 1, not ${JSON.stringify(v)}`);
      return n;
    },
  };
}

function fail(name, message) {
  process.stderr.write(`${name}: ${message}\n`);
  process.exit(2);
}

module.exports = { scriptArgs };
