#!/usr/bin/env node
// `npm run bench:doc`: runs every benchmark of `pagewise bench` once, in one
// process (each pagewise call beside its baselines, interleaved round by
// round), then issue 24's arena workloads (`npm run bench:handles`) and the
// node:ffi comparison under Node 26 when a Node 26 binary is found, and writes the run into BENCHMARKS.md between the bench-doc markers:
// machine (CPU model, cores), kernel, Node, load average at the start and the
// end, date, command and duration, then every ratio with its interval and
// every target's verdict. Every figure the docs quote comes from that section
// (test/docs-figures.test.ts checks it); nothing in it is typed by hand.
//
//   npx node-gyp rebuild && npm run build:ts
//   npm run bench:doc                    # rewrites BENCHMARKS.md's generated section
//   npm run bench:doc -- --print         # prints the section instead
//   npm run bench:doc -- --runs 9        # rounds per benchmark (default: each benchmark's own)
//   npm run bench:doc -- --max-runs 9    # each benchmark's own rounds, at most 9
//   npm run bench:doc -- --only maps     # a subset (names or groups), for trying the script
//   npm run bench:doc -- --handles-rounds 5 --no-ffi --no-handles
//
// Node 26 for the node:ffi part: $PAGEWISE_NODE26, else
// `scripts/runtimes.sh path node26` (PAGEWISE_RUNTIMES_DIR picks its cache).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { scriptArgs } = require('./script-args.js');

process.env.PAGEWISE_FROM_SOURCE = process.env.PAGEWISE_FROM_SOURCE || '1';
const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist/lib');
const { benchmarks, runBenchmark, selectBenchmarks, limitRows } = require(path.join(dist, 'bench/index.js'));
const doc = require(path.join(dist, 'bench/doc.js'));
const { benchConditions } = require(path.join(dist, 'cli/bench.js'));

const args = scriptArgs('bench:doc', {
  print: { type: 'boolean', default: false },
  runs: { type: 'string' },
  'max-runs': { type: 'string' },
  only: { type: 'string', multiple: true, default: [] },
  'handles-rounds': { type: 'string' },
  'no-handles': { type: 'boolean', default: false },
  'no-ffi': { type: 'boolean', default: false },
});
const opts = args.values;
const runs = args.rounds('runs');
const maxRuns = args.rounds('max-runs');
const handlesRounds = args.rounds('handles-rounds', 3);
const only = opts.only;
const print = opts.print;
const given = process.argv.slice(2).filter((a) => a !== '--print');
const command = `npm run bench:doc${given.length ? ` -- ${given.join(' ')}` : ''}`;

const log = (s) => process.stderr.write(`${s}\n`);
const started = new Date();
const loadStart = os.loadavg();
const conditions = benchConditions();

// One benchmark at a time, so the log says what each took.
const chosen = selectBenchmarks(benchmarks, only.length ? only : undefined);
const results = chosen.map((b, index) => {
  const t0 = Date.now();
  const rounds = runs || (maxRuns ? Math.min(b.runs || 15, maxRuns) : undefined);
  const r = runBenchmark(b, rounds ? { runs: rounds } : {}, { index, total: chosen.length });
  log(`[${index + 1}/${chosen.length}] ${doc.summaryLine(r)} (${r.runs} rounds, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return r;
});
function node26() {
  if (process.env.PAGEWISE_NODE26) return process.env.PAGEWISE_NODE26;
  const r = spawnSync('bash', [path.join(root, 'scripts/runtimes.sh'), 'path', 'node26'], { cwd: root, encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim().split('\n').pop() : '';
  return p && fs.existsSync(p) ? p : null;
}

const parts = [];
if (only.length === 0 && !opts['no-handles']) {
  // The arena's workloads, each contender in a child process of its own, interleaved round by round:
  // under this Node and, where one is found, the newest (Node 26), each in its own table.
  const contenders = 'handles,buffer,pool,thing-malloc,c-glibc,c-mimalloc';
  const n26 = node26();
  const runtimes = [{ node: process.execPath, title: 'Arena by handle', contenders }];
  // The C programs do not depend on the Node that starts them: the newest Node runs the JS contenders.
  if (n26) runtimes.push({ node: n26, title: 'Arena by handle, the newest Node', contenders: 'handles,buffer,pool,thing-malloc' });
  for (const { node, title, contenders } of runtimes) {
    const args = ['--expose-gc', path.join(dist, 'bench/handle-workloads.js'), '--rounds', String(handlesRounds), '--contenders', contenders];
    log(`arena by handle: ${node} ${args.slice(1).join(' ')}`);
    const r = spawnSync(node, args, { cwd: root, encoding: 'utf8', env: process.env, timeout: 1200e3, maxBuffer: 64 << 20 });
    const how = node === process.execPath ? `\`npm run bench:handles -- --rounds ${handlesRounds} --contenders ${contenders}\`` : `The same under the newest Node found (\`--contenders ${contenders}\`: the C programs do not depend on the Node that starts them)`;
    const head = `${how}: the arena's workloads (docs/arena.md, "Benchmarks"), each contender in a child process, contenders interleaved round by round; time of the workload, minor faults, resident after it and after freeing everything, Mark-Compacts; targets judged by the interval of the median per-round ratio (with fewer than 6 rounds: their min and max).`;
    parts.push({
      title,
      body: r.status === 0 ? `${head}\n\n${r.stdout}` : `Not run: \`npm run bench:handles\` under ${node} failed (${r.error ? r.error.message : `exit ${r.status}`}): ${(r.stderr || '').trim().split('\n').pop()}`,
    });
  }
}
if (only.length === 0 && !opts['no-ffi']) {
  const n26 = node26();
  let body;
  if (!n26) {
    body = 'Not run: no Node 26 binary found (set PAGEWISE_NODE26, or fetch one with `scripts/runtimes.sh`).';
  } else {
    log(`node:ffi under ${n26}`);
    const r = spawnSync(n26, ['--experimental-ffi', '--no-warnings', path.join(root, 'scripts/bench-ffi.js'), '--print', ...(runs ? ['--runs', String(runs)] : [])], { cwd: root, encoding: 'utf8', env: process.env, timeout: 300e3 });
    body = r.status === 0 ? r.stdout : `Not run: \`scripts/bench-ffi.js\` under Node 26 failed (${r.error ? r.error.message : `exit ${r.status}`}): ${(r.stderr || '').trim().split('\n').pop()}`;
  }
  parts.push({ title: 'The floor itself: node:ffi on Node 26', body });
}

const loadEnd = os.loadavg();
const cpus = os.cpus();
const section = doc.formatDocSection({
  command,
  started,
  seconds: (Date.now() - started.getTime()) / 1000,
  cpu: { model: cpus[0] ? cpus[0].model : 'unknown', cores: cpus.length },
  memory: conditions.memory,
  kernel: conditions.kernel,
  node: conditions.node,
  pageSize: conditions.pageSize,
  thp: conditions.thp,
  loadStart,
  loadEnd,
  betweenSamples: conditions.betweenSamples,
}, results, limitRows, parts);

if (print) {
  process.stdout.write(`${section}\n`);
} else {
  const file = path.join(root, 'BENCHMARKS.md');
  fs.writeFileSync(file, doc.replaceDocSection(fs.readFileSync(file, 'utf8'), section));
  log(`BENCHMARKS.md: wrote the run (${results.length} benchmarks, ${Math.round((Date.now() - started.getTime()) / 1000)} s)`);
}
