#!/usr/bin/env node
// `npm pack` / `npm publish` step after the tarball is written: puts the
// repository's package.json back (scripts/prepack.js wrote the published one).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const backup = path.join(root, '.cache', 'package.json.pack');
if (fs.existsSync(backup)) {
  fs.copyFileSync(backup, path.join(root, 'package.json'));
  fs.rmSync(backup);
}
