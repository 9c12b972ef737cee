#!/usr/bin/env node
// npm run soak [-- SECONDS [SEED]]: runs the reliability property
// (test/reliability-property.test.ts) for a long time with a random seed,
// then the lifecycle suite, and prints the seed on failure so the run can be
// replayed exactly: PAGEWISE_SEED=<seed> npx vitest run test/reliability-property.test.ts
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

const seconds = Number(process.argv[2] ?? process.env.PAGEWISE_SOAK_SECONDS ?? 600);
const seed = Number(process.argv[3] ?? process.env.PAGEWISE_SEED ?? randomInt(2 ** 31));
if (!Number.isInteger(seconds) || seconds <= 0 || !Number.isInteger(seed)) {
  console.error('usage: npm run soak -- [SECONDS (default 600)] [SEED (default random)]');
  process.exit(2);
}
console.log(`soak: ${seconds} s, seed ${seed}`);
const env = { ...process.env, PAGEWISE_SOAK_SECONDS: String(seconds), PAGEWISE_SEED: String(seed) };
const run = (files) => spawnSync('npx', ['vitest', 'run', ...files], { stdio: 'inherit', env }).status;
const status = run(['test/reliability-property.test.ts']) || run(['test/reliability-lifecycle.test.ts', 'test/reliability-faults.test.ts']);
if (status !== 0) {
  console.error(`soak FAILED, seed ${seed} (replay: PAGEWISE_SEED=${seed} npx vitest run test/reliability-property.test.ts)`);
  process.exit(1);
}
console.log(`soak passed, seed ${seed}`);
