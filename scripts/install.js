#!/usr/bin/env node
// The package's `install` script (plain JS: it runs before TypeScript is built).
//
// - In a development checkout (a .git beside package.json), or when asked with
//   PAGEWISE_FROM_SOURCE=1 / `npm install --build-from-source`: build with
//   node-gyp, so the tests run what was just compiled.
// - In an installed copy: when a shipped prebuild for this platform and arch
//   loads, do nothing; otherwise build from source with node-gyp.
//
// npm 11 runs no install script of a dependency unless the user approves it,
// so an installed pagewise must (and does) work without this script: the
// loader (lib/native/binding.ts) reads prebuilds/ itself. This script only matters for
// the project's own `npm install` and for users who approve scripts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const tag = `${process.platform}-${process.arch}`;
const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v !== 'false';

function loadablePrebuild() {
  const dir = path.join(root, 'prebuilds', tag);
  let files = [];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  } catch {
    return null;
  }
  for (const f of files) {
    try {
      require(path.join(dir, f));
      return path.join(dir, f);
    } catch {
      // wrong libc or a Node without this Node-API version: try the next, then build
    }
  }
  return null;
}

function build(reason) {
  console.error(`pagewise: building from source (${reason})`);
  // npm puts its bundled node-gyp on PATH for lifecycle scripts; a local one is the fallback.
  const local = path.join(root, 'node_modules', '.bin', 'node-gyp');
  const cmd = fs.existsSync(local) ? local : 'node-gyp';
  const r = spawnSync(cmd, ['rebuild'], { cwd: root, stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    console.error(
      `pagewise: the build failed (${r.error ? r.error.message : `exit ${r.status}`}).\n` +
        `It needs python3, make and a C++ compiler (Debian/Ubuntu: apt-get install python3 make g++).`,
    );
    process.exit(r.status || 1);
  }
}

if (truthy(process.env.PAGEWISE_FROM_SOURCE) || truthy(process.env.npm_config_build_from_source)) {
  build('asked for a source build');
} else if (fs.existsSync(path.join(root, '.git'))) {
  build('development checkout');
} else {
  const file = loadablePrebuild();
  if (file) console.error(`pagewise: using the prebuilt binary ${path.relative(root, file)}`);
  else build(`no prebuilt binary for ${tag} loads`);
}
