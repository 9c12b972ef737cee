#!/usr/bin/env bash
# CI: arm64 under emulation. Sets up qemu-user, the cross compiler and an
# arm64 Node (scripts/arm64-setup.sh, downloads every run: nothing is cached
# outside the clone), cross-compiles prebuilds/linux-arm64 (scripts/prebuild.sh),
# then runs the vitest suite on it at 4K and 16K pages (scripts/arm64-test.sh).
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
step "vitest under qemu-aarch64 at 4K and 16K pages"
bash scripts/arm64-test.sh default 16k
rc=$?
if [ "$rc" -eq 0 ]; then echo "PASS: ci-arm64 ($((SECONDS - start)) s)"; else echo "FAIL: ci-arm64 ($((SECONDS - start)) s)"; fi
exit $rc
