#!/usr/bin/env node
// Runs the benchmarks of issue 26's table (each pagewise call beside the C
// loop doing the same system calls, interleaved round by round) and prints
// that table alone: each target's ratio with its interval and verdict. The
// same table, from the full run, is in BENCHMARKS.md's generated section
// (`npm run bench:doc`); this script is for re-running those rows alone.
//
//   npm run build && PAGEWISE_FROM_SOURCE=1 node scripts/bench-limits.js [--runs N]
'use strict';
const os = require('node:os');
const path = require('node:path');
const { scriptArgs } = require('./script-args.js');

const root = path.join(__dirname, '..');
const { runBenchmarks, limitRows } = require(path.join(root, 'dist/lib/bench/index.js'));
const doc = require(path.join(root, 'dist/lib/bench/doc.js'));
const { benchConditions } = require(path.join(root, 'dist/lib/cli/bench.js'));

const runs = scriptArgs('bench-limits', { runs: { type: 'string' } }).rounds('runs');

const started = new Date();
const loadStart = os.loadavg();
const c = benchConditions();
const results = runBenchmarks({ only: limitRows.map((r) => r.benchmark), ...(runs ? { runs } : {}) });
const cpus = os.cpus();
process.stdout.write(`${doc.formatConditions({
  command: `node scripts/bench-limits.js${runs ? ` --runs ${runs}` : ''}`,
  started,
  seconds: (Date.now() - started.getTime()) / 1000,
  cpu: { model: cpus[0] ? cpus[0].model : 'unknown', cores: cpus.length },
  memory: c.memory, kernel: c.kernel, node: c.node, pageSize: c.pageSize, thp: c.thp,
  loadStart, loadEnd: os.loadavg(), betweenSamples: c.betweenSamples,
})}\n\n${doc.formatLimitTable(results, limitRows)}\n\n${doc.formatNotes(results)}\n`);
