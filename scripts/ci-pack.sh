#!/usr/bin/env bash
# CI: distribution. Builds whichever prebuilds are missing (x64 natively,
# arm64 cross-compiled; scripts/prebuild.sh), then packs and installs the
# tarball into a fresh project with no compiler, as a user does
# (scripts/pack-test.sh). Ends with "pack: N passed, N failed" and a PASS/FAIL
# line; non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
missing=()
for arch in x64 arm64; do
  ls "prebuilds/linux-$arch"/*.node >/dev/null 2>&1 || missing+=("$arch")
done
if ((${#missing[@]})); then
  printf '\n== ci-pack: prebuild %s\n' "${missing[*]}"
  if ! bash scripts/prebuild.sh "${missing[@]}"; then
    echo "pack: 0 passed, 1 failed"; echo "FAIL: ci-pack: prebuild.sh ${missing[*]} ($((SECONDS - start)) s)"; exit 1
  fi
fi
printf '\n== ci-pack: pack and install as a user (%ss)\n' "$((SECONDS - start))"
bash scripts/pack-test.sh
rc=$?
if [ "$rc" -eq 0 ]; then echo "PASS: ci-pack ($((SECONDS - start)) s)"; else echo "FAIL: ci-pack ($((SECONDS - start)) s)"; fi
exit $rc
