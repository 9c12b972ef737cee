#!/usr/bin/env bash
# Runs the vitest suite on an emulated arm64 Node (qemu-user), loading the
# cross-compiled prebuilds/linux-arm64 binary, once with qemu's default page
# size (4K) and once with 16K pages (QEMU_PAGESIZE=16384; qemu 7.2 honours it:
# sysconf(_SC_PAGESIZE) reads 16384 and mmap/mprotect/madvise alignment follows).
# 64K is not run: Node itself dies with SIGSEGV under qemu 7.2 at 64K pages.
#
# Prerequisites: scripts/arm64-setup.sh (arm64 Node in .cache/arm64-root) and
# scripts/prebuild.sh arm64 (prebuilds/linux-arm64).
#
# Usage: scripts/arm64-test.sh [default|16k]... [-- vitest args]
# Prints "arm64 <size>: N passed, N failed" per run and a total line last;
# exits non-zero when any run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=$REPO/.cache/arm64-root
NODE=$ROOT/usr/bin/node

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

total_p=0
total_f=0
status=0
for size in "${sizes[@]}"; do
  case "$size" in
    default) unset QEMU_PAGESIZE; export PAGEWISE_EXPECT_PAGESIZE=4096 ;;
    16k) export QEMU_PAGESIZE=16384 PAGEWISE_EXPECT_PAGESIZE=16384 ;;
    64k) export QEMU_PAGESIZE=65536 PAGEWISE_EXPECT_PAGESIZE=65536 ;;
    *) echo "arm64-test: unknown size $size (default, 16k, 64k)"; exit 2 ;;
  esac
  ps=$(qemu-aarch64-static -L "$ROOT" "$NODE" -p "require('./prebuilds/linux-arm64/pagewise.node').pageSize()" 2>&1)
  echo "== arm64 $size: page size under emulation: $ps (QEMU_PAGESIZE=${QEMU_PAGESIZE:-unset})"
  if [ "$ps" != "$PAGEWISE_EXPECT_PAGESIZE" ]; then
    echo "arm64-test: qemu gave page size $ps, expected $PAGEWISE_EXPECT_PAGESIZE"
    total_f=$((total_f + 1)); status=1; continue
  fi
  results=$(mktemp)
  start=$SECONDS
  qemu-aarch64-static -L "$ROOT" "$NODE" node_modules/vitest/vitest.mjs run \
    --reporter=default --reporter=json --outputFile.json="$results" "$@"
  rc=$?
  if [ -s "$results" ]; then
    read -r p f s < <(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const loadErrors = (r.testResults || []).filter((t) => t.status === "failed" && !(t.assertionResults || []).some((a) => a.status === "failed")).length;
      console.log(r.numPassedTests, r.numFailedTests + loadErrors, r.numPendingTests + r.numTodoTests);
    ' "$results")
  else
    p=0 f=1 s=0
  fi
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  echo "arm64 $size ($((SECONDS - start)) s): $p passed, $f failed, $s skipped"
  total_p=$((total_p + p)); total_f=$((total_f + f))
  [ "$f" -ne 0 ] && status=1
  rm -f "$results"
done
echo "arm64: $total_p passed, $total_f failed"
exit $status
