#!/usr/bin/env node
// `npm pack` / `npm publish` step (prepack; scripts/postpack.js undoes step 4).
//
// 1. Prebuilds: builds whichever of prebuilds/linux-x64 and linux-arm64 is
//    missing and can be built here without root (x64 with the host compiler,
//    arm64 with aarch64-linux-gnu-g++ when it is on PATH), then stops with
//    one line naming what is missing and the command that installs it.
//    PAGEWISE_PACK_WITHOUT_PREBUILDS=1 packs with whatever prebuilds exist
//    (a tarball for testing, not for publishing).
// 2. dist/: a clean `tsc` without source maps (maps would point at lib/*.ts,
//    which the tarball does not ship); postpack compiles it again with them,
//    so the checkout's dist/ is as it was. The declarations get a
//    `/// <reference types="node" />` where they use Node's types, so a
//    consumer compiles without listing `types` (TypeScript 6+ defaults
//    `types` to []).
// 3. gyp/binding.gyp: the repository's binding.gyp with its paths made
//    relative to gyp/. The published package has no binding.gyp at its root,
//    so npm never builds it implicitly; `npm run build-from-source`
//    (scripts/build-from-source.js) builds from gyp/ when a user asks.
// 4. package.json as published: no install/prepare or development scripts,
//    no devDependencies, the files list of the tarball. The repository's own
//    package.json is kept in .cache/package.json.pack and put back by
//    postpack (and by the next prepack, should a pack die in between).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const backup = path.join(root, '.cache', 'package.json.pack');
const say = (msg) => console.error(`pagewise prepack: ${msg}`);
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    say(`${cmd} ${args.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status}`})`);
    process.exit(1);
  }
};

// An interrupted pack may have left the published package.json in place.
if (fs.existsSync(backup)) {
  fs.copyFileSync(backup, path.join(root, 'package.json'));
  fs.rmSync(backup);
  say('restored package.json left by an interrupted pack');
}

// 1. prebuilds
const has = (arch) => {
  try {
    return fs.readdirSync(path.join(root, 'prebuilds', `linux-${arch}`)).some((f) => f.endsWith('.node'));
  } catch {
    return false;
  }
};
const without = process.env.PAGEWISE_PACK_WITHOUT_PREBUILDS === '1';
if (!has('x64')) {
  if (process.arch === 'x64' && (onPath('g++') || onPath('c++'))) {
    say('building prebuilds/linux-x64');
    run('bash', ['scripts/prebuild.sh', 'x64'], { env: { ...process.env, PAGEWISE_NO_APT: '1' } });
  } else if (!without) {
    say('prebuilds/linux-x64 is missing and cannot be built here: it needs an x86-64 host with g++ (apt-get install g++ make python3); PAGEWISE_PACK_WITHOUT_PREBUILDS=1 packs without it');
    process.exit(1);
  }
}
if (!has('arm64')) {
  if (onPath('aarch64-linux-gnu-g++')) {
    say('cross-compiling prebuilds/linux-arm64');
    run('bash', ['scripts/prebuild.sh', 'arm64'], { env: { ...process.env, PAGEWISE_NO_APT: '1' } });
  } else if (!without) {
    say('prebuilds/linux-arm64 is missing: it needs the arm64 cross compiler; install it with `sudo apt-get install g++-aarch64-linux-gnu` and run npm pack again (or PAGEWISE_PACK_WITHOUT_PREBUILDS=1 npm pack for an x64-only test tarball)');
    process.exit(1);
  }
}

// 2. dist/ without source maps; declarations that need Node's types say so.
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
run(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', 'tsconfig.json', '--sourceMap', 'false']);
// dist/examples stays (the files list leaves it out of the tarball): the examples keep running in the checkout.
const reference = '/// <reference types="node" />\n';
const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
let referenced = 0;
for (const file of walk(path.join(root, 'dist', 'lib'))) {
  if (!file.endsWith('.d.ts')) continue;
  const text = fs.readFileSync(file, 'utf8');
  // Node's modules, its globals (Buffer, NodeJS.*) and Symbol.dispose/Disposable,
  // which @types/node declares for targets whose lib lacks them.
  if (/from 'node:|\bNodeJS\.|\bBuffer\b|Symbol\.dispose|\bDisposable\b/.test(text) && !text.startsWith(reference)) {
    fs.writeFileSync(file, reference + text);
    referenced++;
  }
}
say(`dist/: compiled without source maps; ${referenced} declaration files reference Node's types`);

// 3. gyp/binding.gyp
const gyp = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/"native\//g, '"../native/');
fs.mkdirSync(path.join(root, 'gyp'), { recursive: true });
fs.writeFileSync(
  path.join(root, 'gyp', 'binding.gyp'),
  `# Generated by scripts/prepack.js from the repository's binding.gyp (paths relative to gyp/).\n` +
    `# Build with: npm run build-from-source (scripts/build-from-source.js)\n${gyp}`,
);

// 4. package.json as published
const manifestPath = path.join(root, 'package.json');
const original = fs.readFileSync(manifestPath, 'utf8');
const manifest = JSON.parse(original);
fs.mkdirSync(path.dirname(backup), { recursive: true });
fs.writeFileSync(backup, original);
manifest.scripts = { 'build-from-source': 'node scripts/build-from-source.js' };
delete manifest.devDependencies;
manifest.files = ['dist/lib', 'native', 'gyp/binding.gyp', 'prebuilds', 'scripts/build-from-source.js', 'README.md', 'LICENSE', 'CHANGELOG.md'];
fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
say('package.json: published form written (the repository\'s is back after the pack: scripts/postpack.js)');
