/**
 * Preloaded into a Node program that `pagewise explain -- node app.js`
 * starts (through NODE_OPTIONS=--require): writes the program's runtime
 * statistics (V8 heap by space, process.memoryUsage(), mallinfo2) as JSON to
 * `$PAGEWISE_EXPLAIN_AGENT/<pid>.json` every PAGEWISE_EXPLAIN_AGENT_MS
 * (default 500) milliseconds on an unref'd timer, so the CLI can split the
 * child's anonymous memory as explain() does in the calling process. It
 * loads pagewise's addon into the program (its own mappings show as code
 * pagewise.node) and never keeps the program alive.
 * @internal
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runtimeStats } from './runtime';

const dir = process.env.PAGEWISE_EXPLAIN_AGENT;
if (dir) {
  const file = path.join(dir, `${process.pid}.json`);
  const tmp = `${file}.tmp`;
  const write = (): void => {
    try {
      fs.writeFileSync(tmp, JSON.stringify(runtimeStats()));
      fs.renameSync(tmp, file);
    } catch {
      // the CLI removed the folder (it has stopped): nothing to report to
    }
  };
  const ms = Number(process.env.PAGEWISE_EXPLAIN_AGENT_MS) > 0 ? Number(process.env.PAGEWISE_EXPLAIN_AGENT_MS) : 500;
  write();
  setInterval(write, ms).unref();
  // Last: the program is exiting. What follows is Node's teardown (it frees
  // its ArrayBuffers and V8's heap before the kernel's exit), which a
  // snapshot must not take for the program's own memory.
  process.once('exit', () => {
    try {
      fs.writeFileSync(tmp, JSON.stringify({ ...runtimeStats(), exiting: true }));
      fs.renameSync(tmp, file);
    } catch {
      // nothing to report to
    }
  });
}
