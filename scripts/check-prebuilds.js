#!/usr/bin/env node
// prepack guard: a tarball without both prebuilds would make every user on
// that arch build from source, which npm 11 does not run by default.
// Run `npm run prebuilds` first. PAGEWISE_PACK_WITHOUT_PREBUILDS=1 skips the check.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

if (process.env.PAGEWISE_PACK_WITHOUT_PREBUILDS === '1') process.exit(0);
const root = path.resolve(__dirname, '..');
const missing = ['linux-x64', 'linux-arm64'].filter((tag) => {
  try {
    return !fs.readdirSync(path.join(root, 'prebuilds', tag)).some((f) => f.endsWith('.node'));
  } catch {
    return true;
  }
});
if (missing.length) {
  console.error(`pagewise: no prebuilt binary for ${missing.join(', ')}; run \`npm run prebuilds\` before packing.`);
  process.exit(1);
}
