#!/usr/bin/env node
// `npm run build-from-source`: builds the addon (and the lab binaries: the C
// benchmark addon pagewise_lab.node and the probe executable) from the
// shipped sources, for a platform without a prebuild (musl, another arch) or
// to use your own compiler flags. Run it deliberately, inside the package:
//
//   cd node_modules/pagewise && npm run build-from-source
//
// Needs python3, make and a C++ compiler (Debian/Ubuntu: apt-get install
// python3 make g++; Alpine: apk add python3 make g++ linux-headers) and
// node-gyp (the one npm bundles, a local one, or `npx --yes node-gyp`).
// The result goes to build/Release/, which the loader prefers over the
// prebuilds once it is newer than them.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
// In the repository binding.gyp sits at the root; in the published package
// it is in gyp/ (so that npm never builds implicitly on install).
const gypDir = fs.existsSync(path.join(root, 'binding.gyp')) ? root : path.join(root, 'gyp');
if (!fs.existsSync(path.join(gypDir, 'binding.gyp'))) {
  console.error(`pagewise: no binding.gyp in ${root} or ${gypDir}: this copy has no native sources`);
  process.exit(1);
}

// npm puts its bundled node-gyp on PATH for scripts (npm_config_node_gyp);
// else a local one; else npx fetches it.
const candidates = [
  process.env.npm_config_node_gyp && [process.execPath, [process.env.npm_config_node_gyp]],
  fs.existsSync(path.join(root, 'node_modules', '.bin', 'node-gyp')) && [path.join(root, 'node_modules', '.bin', 'node-gyp'), []],
  ['npx', ['--yes', 'node-gyp']],
].filter(Boolean);
const [cmd, pre] = candidates[0];
console.error(`pagewise: building from source in ${gypDir}`);
const r = spawnSync(cmd, [...pre, 'rebuild'], { cwd: gypDir, stdio: 'inherit' });
if (r.error || r.status !== 0) {
  console.error(
    `pagewise: the build failed (${r.error ? r.error.message : `exit ${r.status}`}).\n` +
      'It needs python3, make and a C++ compiler (Debian/Ubuntu: apt-get install python3 make g++; Alpine: apk add python3 make g++ linux-headers).',
  );
  process.exit(r.status || 1);
}
if (gypDir !== root) {
  // Where the loader (bindings) and the experiments look: build/Release/ at the package root.
  const out = path.join(root, 'build', 'Release');
  fs.mkdirSync(out, { recursive: true });
  for (const f of ['pagewise.node', 'pagewise_lab.node', 'pagewise-probe']) {
    const from = path.join(gypDir, 'build', 'Release', f);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(out, f));
  }
  if (fs.existsSync(path.join(out, 'pagewise-probe'))) fs.chmodSync(path.join(out, 'pagewise-probe'), 0o755);
}
console.error(`pagewise: built ${path.join(root, 'build', 'Release', 'pagewise.node')}`);
