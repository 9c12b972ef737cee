#!/usr/bin/env bash
# CI: the whole vitest suite against an AddressSanitizer/UBSan build of the
# addon (npm run test:asan, scripts/asan.sh: builds in build-asan/, preloads
# libasan and libubsan into every process, PAGEWISE_ASAN=1). Tests whose
# measurement the sanitizer runtime changes skip only that assertion, with
# the reason printed (test/helpers/sanitizer.ts). Ends with
# "asan: N passed, N failed" and a PASS/FAIL line; non-zero on a failed test
# or on any sanitizer report (in the log or in build-asan/reports/).
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
results=$(mktemp)
out=$(mktemp)

printf '\n== ci-asan: npm run test:asan (%ss)\n' "$((SECONDS - start))"
# The sharing property test: 50 sequences of 200 steps under the sanitizer
# (100,000 steps run in `npm test`).
PROPERTY_SEQUENCES=${PROPERTY_SEQUENCES:-50} npm run --silent test:asan -- --reporter=default --reporter=json --outputFile.json="$results" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

passed=0
failed=0
if [ -s "$results" ]; then
  # Failed tests, plus test files that failed without a failed test (a load error).
  read -r passed failed skipped < <(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const loadErrors = (r.testResults || []).filter((t) => t.status === "failed" && !(t.assertionResults || []).some((a) => a.status === "failed")).length;
    console.log(r.numPassedTests, r.numFailedTests + loadErrors, r.numPendingTests + r.numTodoTests);
  ' "$results")
  # The failed tests by name, so that the end of the log (all a CI summary keeps) says which.
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const rel = (f) => require("path").relative(process.cwd(), f);
    for (const t of r.testResults || []) {
      const failed = (t.assertionResults || []).filter((a) => a.status === "failed");
      if (t.status === "failed" && failed.length === 0) console.log(`asan: FAILED ${rel(t.name)} (did not load: ${String(t.message || "").split("\n")[0].slice(0, 200)})`);
      for (const a of failed) console.log(`asan: FAILED ${rel(t.name)} > ${a.fullName}: ${String((a.failureMessages || [""])[0]).split("\n")[0].slice(0, 300)}`);
    }
  ' "$results"
  echo "asan: $skipped tests skipped (each prints its reason above)"
else
  failed=1
  echo "FAIL: ci-asan: no test results (the sanitizer build or the run failed; see above)"
fi

reports=$(sed -nE 's/^== sanitizer reports: ([0-9]+).*/\1/p' "$out" | tail -n 1)
if [ -z "$reports" ]; then
  echo "FAIL: ci-asan: scripts/asan.sh did not count sanitizer reports (it stopped early)"
  failed=$((failed + 1))
elif [ "$reports" -gt 0 ]; then
  echo "FAIL: ci-asan: $reports sanitizer report(s) (printed above)"
  failed=$((failed + 1))
fi
# A non-zero exit with nothing counted (vitest itself crashed) is a failure too.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
rm -f "$results" "$out"

echo "asan: $passed passed, $failed failed"
if [ "$failed" -eq 0 ]; then echo "PASS: ci-asan ($((SECONDS - start)) s)"; else echo "FAIL: ci-asan ($((SECONDS - start)) s)"; fi
[ "$failed" -eq 0 ]
