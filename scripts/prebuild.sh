#!/usr/bin/env bash
# Builds the shipped Node-API binaries with prebuildify (--napi --strip):
#   prebuilds/linux-x64/pagewise.node          native build
#   prebuilds/linux-arm64/pagewise.node        cross-compiled with Debian's
#                                              g++-aarch64-linux-gnu
# and beside each, the lab binaries (native/lab/, same target arch): the C
# probe executable pagewise-probe, and lab/pagewise_lab.node (the benchmark
# loops and the fork probe, loaded only by lib/native/lab.ts).
# Node-API (NAPI_VERSION in binding.gyp) makes one binary serve every Node
# version that has that Node-API version; the headers are arch-independent,
# so the host Node's headers serve the arm64 build too.
#
# The builds run in a staging copy (.cache/prebuild-stage), never in build/:
# build/ is the development build that the tests load, and a cross build there
# would leave arm64 objects behind.
#
# Usage: scripts/prebuild.sh [x64] [arm64]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
archs=("$@")
((${#archs[@]})) || archs=(x64 arm64)

say() { printf 'prebuild: %s\n' "$*" >&2; }

# node-gyp needs Node's headers. On these machines npm's `nodedir` points at
# the installed ones (no download); elsewhere take the running Node's include
# dir when it has the headers, else let node-gyp download them as usual.
if [ -z "${npm_config_nodedir:-}" ]; then
  nd=$(npm config get nodedir 2>/dev/null || true)
  if [ -n "$nd" ] && [ "$nd" != undefined ] && [ "$nd" != null ]; then
    export npm_config_nodedir=$nd
  else
    prefix=$(dirname "$(dirname "$(command -v node)")")
    [ -f "$prefix/include/node/node_api.h" ] && export npm_config_nodedir=$prefix
  fi
fi

STAGE=$REPO/.cache/prebuild-stage
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -r binding.gyp package.json native "$STAGE/"
ln -s "$REPO/node_modules" "$STAGE/node_modules"

for arch in "${archs[@]}"; do
  start=$SECONDS
  rm -rf "$STAGE/build" "$STAGE/prebuilds"
  case "$arch" in
    x64)
      (cd "$STAGE" && npx --no-install prebuildify --napi --strip --arch x64)
      ;;
    arm64)
      if ! command -v aarch64-linux-gnu-g++ >/dev/null; then
        if [ -n "${PAGEWISE_NO_APT:-}" ] || [ "$(id -u)" != 0 ]; then
          say "no arm64 cross compiler (aarch64-linux-gnu-g++); install it with: sudo apt-get install g++-aarch64-linux-gnu"
          exit 1
        fi
        say "installing g++-aarch64-linux-gnu"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++-aarch64-linux-gnu >/dev/null
      fi
      (cd "$STAGE" &&
        CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
        AR=aarch64-linux-gnu-ar PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip \
        CC_host=gcc CXX_host=g++ LINK_host=g++ \
          npx --no-install prebuildify --napi --strip --arch arm64)
      ;;
    *) say "unknown arch $arch (x64, arm64)"; exit 2 ;;
  esac
  out=$(find "$STAGE/prebuilds/linux-$arch" -name '*.node' | head -n1)
  [ -n "$out" ] || { say "no binary produced for $arch"; exit 1; }
  want=$([ "$arch" = arm64 ] && echo 'ARM aarch64' || echo 'x86-64')
  strip_bin=$([ "$arch" = arm64 ] && echo aarch64-linux-gnu-strip || echo strip)
  # binding.gyp builds two addons; prebuildify moves the first .node file
  # build/Release lists (directory order), so find out which one it took.
  core=$STAGE/build/Release/pagewise.node
  lab=$STAGE/build/Release/pagewise_lab.node
  if [ ! -f "$core" ]; then core=$out; elif [ ! -f "$lab" ]; then lab=$out; else say "prebuildify took neither addon ($out)"; exit 1; fi
  [ -f "$core" ] && [ -f "$lab" ] || { say "missing an addon for $arch: $core $lab"; exit 1; }
  for f in "$core" "$lab"; do
    file "$f" | grep -q "$want" || { say "$f is not $want: $(file -b "$f")"; exit 1; }
  done
  mkdir -p "prebuilds/linux-$arch"
  rm -rf "prebuilds/linux-$arch"/*
  mkdir -p "prebuilds/linux-$arch/lab"
  install -m 0755 "$core" "prebuilds/linux-$arch/pagewise.node"
  install -m 0755 "$lab" "prebuilds/linux-$arch/lab/pagewise_lab.node"
  "$strip_bin" --strip-all "prebuilds/linux-$arch/pagewise.node" "prebuilds/linux-$arch/lab/pagewise_lab.node"
  out=prebuilds/linux-$arch/pagewise.node
  # The single-threaded C probe (binding.gyp target pagewise-probe) ships
  # beside the addon: prebuildify itself only copies the .node file.
  probe=$STAGE/build/Release/pagewise-probe
  if [ -f "$probe" ]; then
    install -m 0755 "$probe" "prebuilds/linux-$arch/pagewise-probe"
    "$strip_bin" --strip-all "prebuilds/linux-$arch/pagewise-probe"
    file "prebuilds/linux-$arch/pagewise-probe" | grep -q "$want" || { say "pagewise-probe is not $want"; exit 1; }
  fi
  say "linux-$arch: prebuilds/linux-$arch/$(basename "$out") ($(stat -c %s "$out") bytes, $((SECONDS - start)) s)"
done
