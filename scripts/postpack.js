#!/usr/bin/env node
// `npm pack` / `npm publish` step after the tarball is written: puts the
// repository's package.json back (scripts/prepack.js wrote the published one)
// and compiles dist/ again as the checkout has it (with source maps), so a
// pack leaves the tree as it was.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const backup = path.join(root, '.cache', 'package.json.pack');
if (fs.existsSync(backup)) {
  fs.copyFileSync(backup, path.join(root, 'package.json'));
  fs.rmSync(backup);
}
const { spawnSync } = require('node:child_process');
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('pagewise postpack: tsc failed: run npm run build:ts');
  process.exit(1);
}
