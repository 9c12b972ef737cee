#!/usr/bin/env bash
# Runs the vitest suite on an emulated arm64 Node (qemu-user), loading the
# cross-compiled prebuilds/linux-arm64 binary, once with qemu's default page
# size (4K) and once with 16K pages (QEMU_PAGESIZE=16384; qemu 7.2 honours it:
# sysconf(_SC_PAGESIZE) reads 16384 and mmap/mprotect/madvise alignment follows).
# 64K is not run: Node itself dies with SIGSEGV under qemu 7.2 at 64K pages.
#
# What qemu-user cannot provide is found by the probes of
# test/helpers/emulation.ts (printed by test/platform-binary.test.ts) and only
# the assertions depending on them are skipped, with the reason. Notably, at
# 16K guest pages on 4K host pages qemu passes mincore through: the host
# writes one byte per 4K page, past the guest's vector (memory corruption),
# and pagemap and smaps also answer per host page.
#
# Prerequisites: scripts/arm64-setup.sh (arm64 Node in .cache/arm64-root) and
# scripts/prebuild.sh arm64 (prebuilds/linux-arm64).
#
# Which Node: PAGEWISE_ARM64_NODE=debian (default: Debian's nodejs:arm64 in
# .cache/arm64-root, Node 20) or a name from scripts/runtimes.sh
# (node22-arm64, node26-arm64: the official builds from the npm registry,
# run with .cache/arm64-root as their library root).
#
# Usage: [PAGEWISE_ARM64_NODE=NAME] scripts/arm64-test.sh [default|16k]... [-- vitest args]
# Runs the sizes concurrently (one log each, printed when both end); prints
# "arm64 <node> <size>: N passed, N failed" per run and a total line last;
# exits non-zero when any run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=$REPO/.cache/arm64-root
WHICH=${PAGEWISE_ARM64_NODE:-debian}
if [ "$WHICH" = debian ]; then
  NODE=$ROOT/usr/bin/node
else
  NODE=$(bash scripts/runtimes.sh path "$WHICH") || { echo "arm64-test: cannot install $WHICH"; exit 2; }
  # Children that run `node` by name get this one too (binfmt_misc runs it
  # under qemu): prepended for the vitest command only.
  NODE_PATH_DIR=$(dirname "$NODE")
fi

sizes=()
while (($#)) && [ "$1" != -- ]; do sizes+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
((${#sizes[@]})) || sizes=(default 16k)

[ -x "$NODE" ] || { echo "arm64-test: no arm64 Node; run scripts/arm64-setup.sh first"; exit 2; }
ls prebuilds/linux-arm64/*.node >/dev/null 2>&1 || { echo "arm64-test: no prebuilds/linux-arm64; run scripts/prebuild.sh arm64 first"; exit 2; }
RV=$(node -p "require('rolldown/package.json').version")
ROLLDOWN=$REPO/.cache/arm64-napi/rolldown-$RV/package/rolldown-binding.linux-arm64-gnu.node
[ -f "$ROLLDOWN" ] || { echo "arm64-test: no arm64 rolldown binding; run scripts/arm64-setup.sh"; exit 2; }

export QEMU_LD_PREFIX=$ROOT            # for arm64 children exec'd through binfmt_misc
export NAPI_RS_NATIVE_LIBRARY_PATH=$ROLLDOWN
export PAGEWISE_FROM_SOURCE=0          # load prebuilds/linux-arm64, not build/ (x64)
export PAGEWISE_EXPECT_ARCH=arm64      # test/platform-binary.test.ts asserts the arch and origin

# Under emulation every instruction is translated: tests get 10 minutes
# instead of 60 s (vitest.config.mts reads this; native runs are unchanged).
export PAGEWISE_TEST_TIMEOUT_MS=${PAGEWISE_TEST_TIMEOUT_MS:-600000}
# test/reliability-property.test.ts: 150 random sequences natively; under
# emulation 20 (the same seed, so the same first 20 sequences), to fit CI.
# (Under qemu 7.2 its probes fail, madvise being dropped, so it is skipped
# with the reason; a qemu that passes them runs the 20.)
export PAGEWISE_RUNS=${PAGEWISE_RUNS:-20}
# test/reliability-property-sharing.test.ts: 500 sequences of 200 steps
# natively (100,000 steps), 10 under emulation.
export PROPERTY_SEQUENCES=${PROPERTY_SEQUENCES:-10}

# Exclusions: none. Every test file runs at every page size. The benchmark
# suites already run in their quick mode (one round, tiny sizes) and assert
# only that results are well formed, never a time.

# One vitest per page size, all at once: qemu-user runs the emulated Node
# mostly on one host thread, so the two sizes use the two cores of CI. Each
# vitest keeps one worker (--maxWorkers=1) so the sizes do not fight over
# the cores (and thread fault counts are not disturbed by a sibling file).
run_size() { # size logfile summaryfile failedlist
  local size=$1 log=$2 summary=$3 failed_list=$4
  (
    case "$size" in
      default) unset QEMU_PAGESIZE; export PAGEWISE_EXPECT_PAGESIZE=4096 ;;
      16k) export QEMU_PAGESIZE=16384 PAGEWISE_EXPECT_PAGESIZE=16384 ;;
      64k) export QEMU_PAGESIZE=65536 PAGEWISE_EXPECT_PAGESIZE=65536 ;;
    esac
    ps=$(qemu-aarch64-static -L "$ROOT" "$NODE" -p "require('./prebuilds/linux-arm64/pagewise.node').pageSize()" 2>&1)
    echo "== arm64 $WHICH $size ($(qemu-aarch64-static -L "$ROOT" "$NODE" --version)): page size under emulation: $ps (QEMU_PAGESIZE=${QEMU_PAGESIZE:-unset})"
    if [ "$ps" != "$PAGEWISE_EXPECT_PAGESIZE" ]; then
      echo "arm64-test: qemu gave page size $ps, expected $PAGEWISE_EXPECT_PAGESIZE"
      echo "0 1 0 0" >"$summary"
      exit 1
    fi
    results=$(mktemp)
    start=$SECONDS
    PATH="${NODE_PATH_DIR:+$NODE_PATH_DIR:}$PATH" qemu-aarch64-static -L "$ROOT" "$NODE" node_modules/vitest/vitest.mjs run --maxWorkers=1 \
      --reporter=default --reporter=json --outputFile.json="$results" "${vitest_args[@]}"
    rc=$?
    if [ -s "$results" ]; then
      # Known failures (scripts/runtimes-known-failures.txt, by the runtime's
      # name without -arm64: node22-arm64 uses the node22 lines) are listed
      # as KNOWN and not counted as failed.
      read -r p f s < <(node -e '
        const fs = require("fs");
        const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
        const runtime = process.argv[3].replace(/-arm64$/, "");
        const known = new Map();
        if (fs.existsSync(process.argv[4])) {
          for (const line of fs.readFileSync(process.argv[4], "utf8").split("\n")) {
            if (!line.trim() || line.startsWith("#")) continue;
            const [rt, file, name, reason] = line.split("|").map((x) => x.trim());
            if (rt === runtime || (rt === "*" && runtime !== "debian")) known.set(file + " > " + name, reason || "");
          }
        }
        let failedCount = 0;
        const failed = [];
        for (const t of r.testResults || []) {
          const file = require("path").relative(process.cwd(), t.name);
          const bad = (t.assertionResults || []).filter((a) => a.status === "failed");
          if (t.status === "failed" && !bad.length) { failedCount++; failed.push(file + ": " + String(t.message || "failed to load").split("\n")[0]); }
          for (const a of bad) {
            const key = file + " > " + a.fullName;
            const msg = String((a.failureMessages || [""])[0]).split("\n")[0].slice(0, 300);
            if (known.has(key)) failed.push("KNOWN " + key + ": " + msg + " [" + known.get(key) + "]");
            else { failedCount++; failed.push(key + ": " + msg); }
          }
        }
        console.log(r.numPassedTests, failedCount, r.numPendingTests + r.numTodoTests);
        fs.writeFileSync(process.argv[2], failed.join("\n") + (failed.length ? "\n" : ""));
      ' "$results" "$failed_list" "$WHICH" "$REPO/scripts/runtimes-known-failures.txt")
    else
      p=0 f=1 s=0
    fi
    # vitest exits non-zero for known failures too: only an exit with nothing
    # listed at all (a crash) counts as a failure here.
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ ! -s "$failed_list" ] && f=1
    echo "$p $f $s $((SECONDS - start))" >"$summary"
    rm -f "$results"
  ) >"$log" 2>&1
}

for size in "${sizes[@]}"; do
  case "$size" in default | 16k | 64k) ;; *) echo "arm64-test: unknown size $size (default, 16k, 64k)"; exit 2 ;; esac
done
vitest_args=("$@")
work=$(mktemp -d)
pids=()
for size in "${sizes[@]}"; do
  run_size "$size" "$work/$size.log" "$work/$size.sum" "$work/$size.failed" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

total_p=0
total_f=0
status=0
for size in "${sizes[@]}"; do
  cat "$work/$size.log"
  read -r p f s secs <"$work/$size.sum" 2>/dev/null || { p=0 f=1 s=0 secs=0; }
  echo "arm64 $WHICH $size (${secs:-0} s): $p passed, $f failed, $s skipped"
  # The failed tests' names again, so that the end of a CI log says which.
  [ -s "$work/$size.failed" ] && sed -e "/^KNOWN /{s/^KNOWN /arm64 $WHICH $size KNOWN: /;b" -e "}" -e "s/^/arm64 $WHICH $size FAILED: /" "$work/$size.failed"
  total_p=$((total_p + p)); total_f=$((total_f + f))
  [ "$f" -ne 0 ] && status=1
done
rm -rf "$work"
echo "arm64 $WHICH: $total_p passed, $total_f failed"
exit $status
