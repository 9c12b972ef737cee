#!/usr/bin/env bash
# CI: the runtime matrix on x64. Pinned runtimes come from the npm registry
# (scripts/runtimes.sh, cached in .cache/runtimes for the rest of the run):
#   node22, node24, node26   the whole vitest suite, with the addon that
#                            `npm ci` built (Node-API: one binary for every
#                            Node version); `node` on PATH is that runtime too,
#                            so child processes the tests spawn run on it
#   bun                      test/runtimes/smoke.mjs (every public entry point,
#                            through ESM import and require())
#   deno                     the same smoke, once with -A and once with the
#                            narrow flags (--allow-read --allow-env --allow-ffi),
#                            where JS reads of /proc must fail with Deno's error
#                            naming --allow-all (see the smoke's header)
# Node 20 (the host's) runs the suite in .ci/run's `npm test` step.
#
# Prints one line per runtime ("node22 x64: N passed, N failed (T s)") and a
# total line last; non-zero when any runtime fails.
#
# Known failures: scripts/runtimes-known-failures.txt lists tests (by runtime,
# file and full name) that fail for a reason owned elsewhere; each is printed
# as KNOWN and not counted as failed. A listed test that passes is printed as
# "now passes" so the line gets removed.
#
# Usage: scripts/ci-runtimes.sh [RUNTIME...]   (default: node22 node24 node26 bun deno)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
start=$SECONDS
names=("$@")
((${#names[@]})) || names=(node22 node24 node26 bun deno)
KNOWN=$REPO/scripts/runtimes-known-failures.txt
LOGS=$REPO/.cache/runtimes-logs
mkdir -p "$LOGS"

step() { printf '\n== ci-runtimes: %s (%ss)\n' "$1" "$((SECONDS - start))"; }

step "install runtimes (${names[*]})"
if ! bash scripts/runtimes.sh install "${names[@]}"; then
  echo "FAIL: ci-runtimes: could not install the runtimes"
  echo "runtimes: 0 passed, 1 failed"
  exit 1
fi
[ -f dist/lib/index.js ] || npx --no-install tsc -p tsconfig.json

summary=()
total_p=0
total_f=0
add() { # name passed failed seconds [extra]
  summary+=("$(printf '%s x64: %s passed, %s failed (%s s)%s' "$1" "$2" "$3" "$4" "${5:+, $5}")")
  total_p=$((total_p + $2)); total_f=$((total_f + $3))
}

run_vitest() { # name
  local name=$1 node results log t0 rc p f k out
  node=$(bash scripts/runtimes.sh path "$name")
  results=$LOGS/$name.json
  log=$LOGS/$name.log
  rm -f "$results"
  step "$name ($("$node" --version)): vitest run (log: ${log#"$REPO"/})"
  t0=$SECONDS
  # PATH first: tests that spawn `node` or use process.execPath get this runtime.
  # The sharing property test runs 100,000 steps in `npm test`; here 20,000
  # per runtime, each on a seed of its own (more of the space, in the same time).
  PROPERTY_SEQUENCES=${PROPERTY_SEQUENCES:-100} PAGEWISE_SHARING_SEED=$((20261207 + ${name//[!0-9]/})) \
  PATH="$(dirname "$node"):$PATH" "$node" node_modules/vitest/vitest.mjs run \
    --reporter=dot --reporter=json --outputFile.json="$results" >"$log" 2>&1
  rc=$?
  tail -n 40 "$log" | grep -vE '^\s*$' | tail -n 25
  if [ -s "$results" ]; then
    out=$(node - "$results" "$name" "$KNOWN" <<'EOF'
const fs = require('fs');
const path = require('path');
const [results, runtime, knownFile] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(results, 'utf8'));
// known: "runtime | file | full test name | reason"
const known = new Map();
if (fs.existsSync(knownFile)) {
  for (const line of fs.readFileSync(knownFile, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [rt, file, name, reason] = line.split('|').map((s) => s.trim());
    if (rt === runtime || rt === '*') known.set(`${file} > ${name}`, reason || '');
  }
}
let passed = 0, failed = 0, knownFailed = 0;
const lines = [];
const seen = new Set();
for (const t of r.testResults || []) {
  const file = path.relative(process.cwd(), t.name);
  const bad = (t.assertionResults || []).filter((a) => a.status === 'failed');
  if (t.status === 'failed' && !bad.length) { failed++; lines.push(`${runtime} FAILED: ${file}: ${String(t.message || 'failed to load').split('\n')[0]}`); }
  for (const a of t.assertionResults || []) {
    const key = `${file} > ${a.fullName}`;
    if (a.status === 'passed') {
      passed++;
      if (known.has(key)) lines.push(`${runtime} now passes (remove it from scripts/runtimes-known-failures.txt): ${key}`);
    } else if (a.status === 'failed') {
      const msg = String((a.failureMessages || [''])[0]).split('\n')[0].slice(0, 300);
      if (known.has(key)) { knownFailed++; seen.add(key); lines.push(`${runtime} KNOWN: ${key}: ${msg} [${known.get(key)}]`); }
      else { failed++; lines.push(`${runtime} FAILED: ${key}: ${msg}`); }
    }
  }
}
console.log(lines.join('\n'));
console.log(`=${passed} ${failed} ${knownFailed}`);
EOF
)
    grep -v '^=' <<<"$out"
    read -r p f k < <(grep '^=' <<<"$out" | tr -d =)
  else
    p=0 f=1 k=0
    echo "$name FAILED: vitest produced no results (exit $rc); see $log"
  fi
  # A non-zero exit with no failure counted (a crash, an unhandled error) is a failure.
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$k" -eq 0 ]; then
    f=1; echo "$name FAILED: vitest exited $rc with no failed test (see $log)"
  fi
  add "$name" "$p" "$f" "$((SECONDS - t0))" "$([ "$k" -gt 0 ] && echo "$k known failures")"
}

run_smoke() { # name label [VAR=value...] command...
  local name=$1 label=$2 log t0 rc line p f
  shift 2
  log=$LOGS/$(tr -c "a-zA-Z0-9.\n-" _ <<<"$label").log
  step "$label: test/runtimes/smoke.mjs"
  t0=$SECONDS
  env NO_COLOR=1 "$@" >"$log" 2>&1
  rc=$?
  cat "$log"
  line=$(grep -Eo 'smoke [a-z]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    read -r p f < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1 \2/' <<<"$line")
  else
    p=0 f=1
  fi
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  grep '^FAIL' "$log" | sed "s/^FAIL: /$label FAILED: /"
  add "$label" "$p" "$f" "$((SECONDS - t0))"
}

for name in "${names[@]}"; do
  case "$name" in
    node*) run_vitest "$name" ;;
    bun)
      bun=$(bash scripts/runtimes.sh path bun)
      run_smoke bun "bun $("$bun" --version)" "$bun" test/runtimes/smoke.mjs
      ;;
    deno)
      deno=$(bash scripts/runtimes.sh path deno)
      v=$("$deno" --version | head -n1 | awk '{print $2}')
      run_smoke deno "deno $v (-A)" "$deno" run -A test/runtimes/smoke.mjs
      run_smoke deno "deno $v (--allow-read --allow-env --allow-ffi)" PAGEWISE_SMOKE_DENO_LIMITED=1 \
        "$deno" run --allow-read --allow-env --allow-ffi --allow-write="${TMPDIR:-/tmp}" test/runtimes/smoke.mjs
      ;;
    *) echo "ci-runtimes: unknown runtime $name"; add "$name" 0 1 0 ;;
  esac
done

step "matrix"
printf '%s\n' "${summary[@]}"
echo "runtimes: $total_p passed, $total_f failed"
if [ "$total_f" -eq 0 ]; then echo "PASS: ci-runtimes ($((SECONDS - start)) s)"; else echo "FAIL: ci-runtimes ($((SECONDS - start)) s)"; fi
[ "$total_f" -eq 0 ]
