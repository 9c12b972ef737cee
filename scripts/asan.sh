#!/usr/bin/env bash
# npm run test:asan — builds the native layer with -fsanitize=address,undefined
# in a copy of the package under build-asan/ (build/ stays untouched; make
# rebuilds only what changed), then runs the
# test suite against that binary (PAGEWISE_BINARY) with the sanitizer runtimes
# preloaded into every Node process. Arguments are passed to vitest (a file
# list narrows the run). Leak detection is off: V8 keeps memory until exit by
# design. A sanitizer report fails the run (halt_on_error, exit code 86).
# Every process (vitest's forks and the children tests spawn: CLI, examples,
# probe) writes its reports to build-asan/reports/<sanitizer>.<pid>, so a
# report from a child is counted even when its stderr is not printed.
# Signals are left to the kernel so that crash-expected children still die of
# theirs. Tests that exhaust address space or mappings skip themselves
# (PAGEWISE_ASAN=1): the sanitizer runtime needs both.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/build-asan"
mkdir -p "$work"
cp -rp "$root/binding.gyp" "$root/package.json" "$root/native" "$work/"
ln -sfn "$root/node_modules" "$work/node_modules"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
echo "== building the addon with $san in $work"
(cd "$work" && CFLAGS="$san" CXXFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" npx node-gyp configure build >"$work/build.log" 2>&1) || {
  tail -n 40 "$work/build.log"
  exit 1
}
binary="$work/build/Release/pagewise.node"
if [ "$(nm -D "$binary" | grep -c __asan_)" = 0 ]; then
  echo "the built addon is not instrumented (no __asan_ symbols)"
  exit 1
fi

asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
echo "== running the tests with $asan $ubsan preloaded"
(cd "$root" && npx tsc -p tsconfig.json)
cd "$root"
log="$work/test.log"
reports_dir="$work/reports"
rm -rf "$reports_dir"
mkdir -p "$reports_dir"
set +e
PAGEWISE_TEST_WORKERS=${PAGEWISE_TEST_WORKERS:-1} \
PAGEWISE_ASAN=1 \
PAGEWISE_BINARY="$binary" \
PAGEWISE_LAB_BINARY="$work/build/Release/pagewise_lab.node" \
LD_PRELOAD="$asan $ubsan" \
ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:exitcode=86:allocator_may_return_null=1:handle_segv=0:handle_sigbus=0:handle_abort=0:log_path=$reports_dir/asan" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86:log_path=$reports_dir/ubsan" \
  npx vitest run "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
in_log=$(grep -cE 'ERROR: AddressSanitizer|runtime error:' "$log" || true)
# A file holds a report (ERROR:, or UBSan's "runtime error:") or only a warning.
files=$( (grep -lE 'ERROR: |runtime error:' -r "$reports_dir" || true) | wc -l)
for f in $(find "$reports_dir" -type f | sort | head -n 5); do
  echo "== $f"
  head -n 40 "$f"
done
reports=$((in_log + files))
echo "== sanitizer reports: $reports ($files in report files under $reports_dir, $in_log in the log; vitest exit status $status; log: $log)"
[ "$reports" = 0 ] && [ "$status" = 0 ]
