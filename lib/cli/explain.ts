/**
 * `pagewise explain`: where a process's resident memory is, by owner
 * (lib/explain). One snapshot, or `--watch SECONDS` snapshots updated in
 * place on a terminal (a line per sample otherwise), or `-- command args...`
 * to start a program and sample it until it exits; `--json` prints
 * snapshots as JSON (one per line when watching), `--html FILE` writes a page
 * with a stacked area chart and the verdicts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CliCommand } from './command';
import { EXIT, UsageError, parseCommand, terminalWidth, wrap } from './support';
import { explain, verdicts as verdictsOf } from '../explain';
import type { ExplainSample, ExplainSnapshot, RuntimeStats } from '../explain';
import { bytes, htmlPage, snapshotLines } from '../explain/render';

const HELP = `Usage: pagewise explain [--pid N] [--json] [--watch SECONDS] [--html FILE]
                        [-- command args...]

Attributes every resident byte of a process (default: this command's own
process) to its owner: code of each loaded object, object data, mapped files,
[heap], stacks, malloc arenas, pagewise's memory, shared memory, anonymous
memory (split by V8 and malloc statistics where the process reports them),
and what is left unattributed. The categories add up to smaps_rollup's Rss.

Options:
  --pid N            the process to explain (needs ptrace read access: same
                     user or root)
  --watch SECONDS    sample every SECONDS (decimals allowed) until interrupted
                     or the process exits, with verdicts (with --pid, or
                     with -- command)
  --json             print the snapshot as JSON (one line per sample with
                     --watch)
  --html FILE        write a self-contained page: stacked area chart over time
                     and the verdicts
  -- command args    start the command, sample it every SECONDS (default 1)
                     until it exits;
                     a Node program reports its V8 and malloc statistics
                     through a preloaded agent
  -h, --help         this help
  -V, --version      the version
`;

/** JSON with bigints as hex strings. */
function json(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x));
}

/** Seconds from the flag's text, or a usage error. */
function seconds(text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n >= 0.05 && n <= 86400)) throw new UsageError(`--watch must be a number of seconds from 0.05 to 86400, got '${text}'`, 'explain');
  return n;
}

/** Starts `argv` with the agent preloaded (for Node programs); its output goes to our stderr. */
function start(argv: string[], agentDir: string, intervalMs: number): ChildProcess {
  const agent = path.join(__dirname, '..', 'explain', 'agent.js');
  const env = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(agent)}`.trim(),
    PAGEWISE_EXPLAIN_AGENT: agentDir,
    PAGEWISE_EXPLAIN_AGENT_MS: String(Math.max(50, Math.round(intervalMs / 2))),
  };
  return spawn(argv[0]!, argv.slice(1), { stdio: ['inherit', process.stderr, process.stderr], env });
}

function readAgent(agentDir: string, pid: number): RuntimeStats | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(agentDir, `${pid}.json`), 'utf8')) as RuntimeStats;
  } catch {
    return null;
  }
}

export const command: CliCommand = {
  name: 'explain',
  summary: 'where every resident byte of a process is: by owner, exact from smaps, split by V8/malloc statistics; --watch for verdicts over time',
  async run(argv: string[]): Promise<number> {
    const dash = argv.indexOf('--');
    const own = dash < 0 ? argv : argv.slice(0, dash);
    const cmd = dash < 0 ? [] : argv.slice(dash + 1);
    const parsed = parseCommand('explain', own, {
      pid: { type: 'string' },
      json: { type: 'boolean' },
      watch: { type: 'string' },
      html: { type: 'string' },
    }, HELP);
    if (!parsed) return EXIT.ok;
    const v = parsed.values;
    if (dash >= 0 && cmd.length === 0) throw new UsageError('nothing after --: give the command to start', 'explain');
    if (cmd.length && v.pid !== undefined) throw new UsageError('--pid and -- command exclude each other', 'explain');
    let pid: number | undefined;
    if (v.pid !== undefined) {
      pid = /^\d+$/.test(v.pid) ? Number(v.pid) : NaN;
      if (!Number.isSafeInteger(pid) || pid < 1) throw new UsageError(`--pid must be a process id, got '${v.pid}'`, 'explain');
    }
    const watching = v.watch !== undefined || cmd.length > 0;
    // Watching this command's own process would report its own start-up as growth: say what to watch.
    if (v.watch !== undefined && pid === undefined && cmd.length === 0) {
      throw new UsageError('--watch needs a process to watch: --pid N, or -- command args to start one (watching this command itself would only show its own start-up)', 'explain');
    }
    const intervalMs = v.watch !== undefined ? seconds(v.watch) * 1000 : 1000;
    const width = terminalWidth();
    const tty = process.stdout.isTTY === true;

    if (!watching) {
      const snap = explain(pid === undefined ? {} : { pid });
      if (v.json) process.stdout.write(`${json(snap)}\n`);
      else process.stdout.write(`${header(snap, width).join('\n')}\n${snapshotLines(snap, width).join('\n')}\n`);
      if (v.html) fs.writeFileSync(v.html, htmlPage([snap], [], `pagewise explain: pid ${snap.pid}`));
      return EXIT.ok;
    }

    let child: ChildProcess | undefined;
    let agentDir: string | undefined;
    let runtime: (() => RuntimeStats | null) | undefined;
    if (cmd.length) {
      agentDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-explain-'));
      child = start(cmd, agentDir, intervalMs);
      await new Promise<void>((resolve, reject) => {
        child!.once('spawn', resolve);
        child!.once('error', reject);
      });
      pid = child.pid!;
      const dir = agentDir;
      const childPid = pid;
      runtime = () => readAgent(dir, childPid);
    }
    const exited = child ? new Promise<number | string>((resolve) => child!.once('exit', (code, signal) => resolve(signal ?? code ?? 0))) : null;
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void exited?.then(stop);
    const series: ExplainSnapshot[] = [];
    let last: ExplainSample | undefined;
    let shown = 0;
    try {
      for await (const s of explain.watch({ ...(pid === undefined ? {} : { pid }), intervalMs, signal: ac.signal, ...(runtime ? { runtime } : {}) })) {
        // A program just started is still being exec'd: wait for its agent's first report (1 s at most).
        if (child && s.runtime === null && s.elapsedMs < 1000) continue;
        last = s;
        series.push(s);
        const verdicts = verdictsOf(series);
        if (v.json) process.stdout.write(`${json({ ...s, verdicts })}\n`);
        else if (tty) {
          // No more lines than the terminal has rows: the cursor cannot move back above its top.
          const rows = process.stdout.rows > 0 ? process.stdout.rows : 24;
          const lines = [...header(s, width, s.elapsedMs), ...snapshotLines(s, width, verdicts, s.delta.categories)].slice(0, Math.max(5, rows - 1));
          process.stdout.write(`${shown ? `\x1b[${shown}A\x1b[J` : ''}${lines.join('\n')}\n`);
          shown = lines.length;
        } else {
          const movers = Object.entries(s.delta.categories).filter(([, d]) => d !== 0).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 3);
          process.stdout.write(`${wrap(`${(s.elapsedMs / 1000).toFixed(1)} s: RSS ${bytes(s.totals.rss)} (${series.length > 1 ? `${s.delta.rss >= 0 ? '+' : ''}${bytes(s.delta.rss)}` : 'first'})${movers.length && series.length > 1 ? `; ${movers.map(([id, d]) => `${s.categories.find((c) => c.id === id)?.label ?? id} ${d >= 0 ? '+' : ''}${bytes(d)}`).join(', ')}` : ''}`, width, '  ').join('\n')}\n`);
        }
        if (v.html) fs.writeFileSync(v.html, htmlPage(series, verdicts, title(s.pid, cmd)));
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      if (agentDir) fs.rmSync(agentDir, { recursive: true, force: true });
    }
    const status = exited ? await exited : undefined;
    // Every sample stays in the final table and the HTML. A Node program's
    // teardown (after its agent reported the exit event) is marked and left
    // out of the verdicts; a snapshot is refused once the kernel's exit has
    // begun (PF_EXITING).
    if (!last) throw new Error(cmd.length ? `the command exited before the first snapshot (${String(status)})` : `no snapshot of process ${pid}`);
    const verdicts = verdictsOf(series);
    if (!v.json) {
      // The whole last view with the verdicts (on a terminal, in place of the cut-down live view).
      const clear = tty && shown ? `\x1b[${shown}A\x1b[J` : '\n';
      process.stdout.write(`${clear}${header(last, width, last.elapsedMs).join('\n')}\n${snapshotLines(last, width, verdicts).join('\n')}\n`);
    }
    if (v.html) fs.writeFileSync(v.html, htmlPage(series, verdicts, title(last.pid, cmd)));
    if (status !== undefined && !v.json) process.stdout.write(`${cmd.join(' ')}: exited with ${typeof status === 'string' ? `signal ${status}` : `code ${status}`}\n`);
    return EXIT.ok;
  },
};

function title(pid: number, cmd: string[]): string {
  return `pagewise explain: ${cmd.length ? cmd.join(' ') : `pid ${pid}`}`;
}

function header(s: ExplainSnapshot, width: number, elapsedMs?: number): string[] {
  return wrap(
    `pid ${s.pid}${elapsedMs !== undefined ? `, ${(elapsedMs / 1000).toFixed(1)} s` : ''}: RSS ${bytes(s.totals.rss)} by owner ` +
      `(snapshot in ${s.costMs.toFixed(1)} ms${s.runtime ? '; runtime statistics from the process itself' : ''})` +
      (s.teardown ? ': taken while the program was exiting (Node frees its memory then), so the verdicts leave it out' : ''),
    width,
  ).concat('');
}
