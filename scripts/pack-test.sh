#!/usr/bin/env bash
# Installs pagewise as a user does and checks it works:
#   1. `npm pack` (prepack, scripts/prepack.js: both prebuilds present, a clean
#      dist/ without source maps, gyp/binding.gyp, the published package.json),
#      in a staging copy so the working tree's dist/ is left alone; the
#      tarball's contents and its package.json (no install/prepare script, no
#      binding.gyp at the root, LICENSE, CHANGELOG, no maps);
#   2. a fresh project in a temp dir, npm's default settings (an empty user
#      npmrc, no npm_config_* variables, a fresh HOME), and a PATH with only
#      node, npm and npx: no compiler, no make, no python, so a build cannot
#      happen and the shipped prebuild must load with no install script.
#      Installed twice: with npm 11 (the host's) and with `npx npm@12 install`
#      (on Node 22: npm 12 needs it); neither may print a warning;
#   3. checks: no build happened, the prebuild is what loaded, a CommonJS and
#      an ES module program (test/consumer/) on every Node of the matrix
#      (20, the host's; 22, 24, 26 from scripts/runtimes.sh), every `exports`
#      subpath, TypeScript consumers (test/consumer/*.mts, *.cts) compiled with
#      TypeScript 5 and 7 under --strict with module nodenext, node16 and
#      bundler and no `types` setting (and a wrong call fails to), the
#      examples compile and run, the `pagewise` bin runs, with no matching
#      prebuild the error names exactly what to run, and
#      `npm run build-from-source` builds the shipped sources (host PATH).
# Prerequisite: prebuilds/linux-x64 and prebuilds/linux-arm64 (scripts/prebuild.sh).
# Prints one "pack: N passed, N failed" line last; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
NODE=$(command -v node)
NPM=$(command -v npm)
NPX=$(command -v npx)
TS_VERSION=$(node -p "require('typescript/package.json').version")
TYPES_NODE=$(node -p "require('@types/node/package.json').version")
PROM_VERSION=$(node -p "require('prom-client/package.json').version") # an optional peer: examples/metrics-server.ts uses it, as a user of pagewise/metrics installs it
TS7_VERSION=7.0.2 # typescript@7 is the native (Go) compiler, published as `typescript` with per-platform binaries
NPM12_VERSION=12.2.2
MATRIX=(node22 node24 node26)
bash scripts/runtimes.sh install "${MATRIX[@]}" >&2 || { echo "pack: 0 passed, 1 failed"; exit 1; }

passed=0
failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() { echo "pack: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

T=$(mktemp -d /tmp/pagewise-pack.XXXXXX)
[ -n "${PAGEWISE_KEEP_TMP:-}" ] || trap 'rm -rf "$T"' EXIT

# 1. pack, from a staging copy of the tree (prepack rebuilds dist/ there).
STAGE=$T/stage
mkdir -p "$STAGE"
tar -C "$REPO" --exclude=./node_modules --exclude=./.git --exclude=./build --exclude='./build-*' \
  --exclude=./.cache --exclude=./dist --exclude='./*.tgz' -cf - . | tar -C "$STAGE" -xf -
ln -s "$REPO/node_modules" "$STAGE/node_modules"
start=$SECONDS
if tgz_name=$(cd "$STAGE" && npm pack --silent --pack-destination "$T" 2>"$T/pack.err" | tail -n1) && [ -f "$T/$tgz_name" ]; then
  TGZ=$T/$tgz_name
  ok "npm pack: $tgz_name ($(stat -c %s "$TGZ") bytes, $((SECONDS - start)) s)"
else
  cat "$T/pack.err"; bad "npm pack"; finish
fi
# A pack leaves the checkout as it was (postpack): its package.json, and dist/ compiled with source maps, examples included.
if cmp -s "$STAGE/package.json" "$REPO/package.json" && [ -f "$STAGE/dist/examples/mmap-basics.js" ] && [ -f "$STAGE/dist/lib/index.js.map" ]; then
  ok "npm pack leaves the checkout as it was: package.json, dist/ with source maps and dist/examples"
else
  bad "npm pack changed the checkout: package.json $(cmp -s "$STAGE/package.json" "$REPO/package.json" && echo same || echo differs), dist/examples $([ -d "$STAGE/dist/examples" ] && echo present || echo missing), source maps $([ -f "$STAGE/dist/lib/index.js.map" ] && echo present || echo missing)"
fi

contents=$(tar -tzvf "$TGZ")
for want in package/package.json package/gyp/binding.gyp package/scripts/build-from-source.js package/dist/lib/index.js \
  package/dist/lib/index.d.ts package/dist/lib/native/binding.js package/native/pagewise.h package/LICENSE package/CHANGELOG.md \
  package/prebuilds/linux-x64/pagewise.node package/prebuilds/linux-arm64/pagewise.node \
  package/prebuilds/linux-x64/lab/pagewise_lab.node package/prebuilds/linux-arm64/lab/pagewise_lab.node \
  package/native/lab/cbench.cc package/dist/lib/native/lab.js; do
  grep -q " $want\$" <<<"$contents" || bad "tarball lacks $want"
done
for tag in linux-x64 linux-arm64; do
  if grep -q " package/prebuilds/$tag/pagewise-probe\$" <<<"$contents"; then
    grep " package/prebuilds/$tag/pagewise-probe\$" <<<"$contents" | grep -q '^-rwx' ||
      bad "prebuilds/$tag/pagewise-probe is not executable in the tarball"
  fi
done
unwanted=$(grep -E ' package/(test|build|\.cache|node_modules|dist/examples|dist/test)/| package/binding\.gyp$| package/scripts/install\.js$|\.map$' <<<"$contents" | head -n3)
[ -z "$unwanted" ] || bad "tarball ships what it must not: $unwanted"
[ "$failed" -eq 0 ] && ok "tarball contents: dist/lib, native sources + gyp/binding.gyp (none at the root), both prebuilds (core and lab/), LICENSE, CHANGELOG, no source maps"
# The published package.json: nothing npm would run or warn about on install.
manifest=$(tar -xzOf "$TGZ" package/package.json)
if out=$(node -e '
  const m = JSON.parse(process.argv[1]);
  const bad = ["preinstall", "install", "postinstall", "prepare"].filter((s) => m.scripts && s in m.scripts);
  if (bad.length) throw new Error("lifecycle scripts: " + bad.join(", "));
  if (m.devDependencies) throw new Error("devDependencies shipped");
  if (m.gypfile) throw new Error("gypfile set");
  if (JSON.stringify(m.libc) !== JSON.stringify(["glibc"])) throw new Error("libc: " + JSON.stringify(m.libc));
  if (m.license !== "MIT") throw new Error("license " + m.license);
  console.log(Object.keys(m.scripts || {}).join(", ") || "none");
' "$manifest" 2>&1); then
  ok "published package.json: no install/prepare script, no devDependencies, libc glibc (scripts: $out)"
else
  bad "published package.json: $out"
fi
maps=$(tar -xzOf "$TGZ" --wildcards 'package/dist/lib/*.js' | grep -c 'sourceMappingURL' || true)
if [ "$maps" = 0 ]; then ok "no sourceMappingURL in the shipped JS (maps would point at lib/*.ts, which is not shipped)"; else bad "$maps shipped JS files reference source maps"; fi

# 2. a fresh project, default npm settings, no compiler on PATH.
BIN=$T/bin
# The machine's extra CA (a TLS-inspecting proxy here) is part of the
# environment, not an npm setting: Node builds from the registry need it.
CA=${NODE_EXTRA_CA_CERTS:-}
mkdir -p "$BIN" "$T/home" "$T/app"
ln -s "$NODE" "$BIN/node"; ln -s "$NPM" "$BIN/npm"; ln -s "$NPX" "$BIN/npx"; ln -s /bin/sh "$BIN/sh"
: >"$T/npmrc"
run() { # run in the consumer project with a clean environment
  (cd "$T/app" && env -i HOME="$T/home" PATH="$BIN" npm_config_userconfig="$T/npmrc" \
    npm_config_update_notifier=false TMPDIR="$T" ${CA:+NODE_EXTRA_CA_CERTS="$CA"} "$@")
}
for tool in gcc g++ cc c++ make python3; do
  if run sh -c "command -v $tool" >/dev/null 2>&1; then bad "$tool is on the test PATH"; fi
done 2>/dev/null
cat >"$T/app/package.json" <<'EOF'
{ "name": "pagewise-consumer", "version": "1.0.0", "private": true, "type": "commonjs" }
EOF
# Warnings npm prints on install: about scripts (npm 11+ blocks a
# dependency's install scripts and says so), engines, platforms, anything.
warned() { grep -iE 'warn|script|gyp|approve' "$1" | head -n 5; }
start=$SECONDS
if run "$BIN/npm" install --no-audit --no-fund "$TGZ" >"$T/install.log" 2>&1; then
  ok "npm $(run "$BIN/npm" --version) install of the tarball with no compiler on PATH ($((SECONDS - start)) s): $(tail -n1 "$T/install.log")"
  w=$(warned "$T/install.log")
  if [ -z "$w" ]; then ok "npm 11: no warning on install"; else bad "npm 11 warned on install: $w"; fi
else
  cat "$T/install.log"; bad "npm install of the tarball"; finish
fi
# TypeScript 5 and 7 and Node's types, beside the package (not part of it).
if ! run "$BIN/npm" install --no-audit --no-fund "ts5@npm:typescript@$TS_VERSION" "ts7@npm:typescript@$TS7_VERSION" "@types/node@$TYPES_NODE" "prom-client@$PROM_VERSION" >"$T/install-ts.log" 2>&1; then
  cat "$T/install-ts.log"; bad "npm install of TypeScript $TS_VERSION and $TS7_VERSION (and prom-client $PROM_VERSION)"
fi

# npm 12 (needs Node 22.22+) through npx, as a user runs it, in a second project.
N22=$(bash scripts/runtimes.sh path node22)
BIN12=$T/bin12
mkdir -p "$BIN12" "$T/app12"
ln -s "$N22" "$BIN12/node"; ln -s "$NPM" "$BIN12/npm"; ln -s "$NPX" "$BIN12/npx"; ln -s /bin/sh "$BIN12/sh"
echo '{ "name": "pagewise-consumer-npm12", "version": "1.0.0", "private": true }' >"$T/app12/package.json"
run12() { (cd "$T/app12" && env -i HOME="$T/home" PATH="$BIN12" npm_config_userconfig="$T/npmrc" npm_config_update_notifier=false TMPDIR="$T" ${CA:+NODE_EXTRA_CA_CERTS="$CA"} "$@"); }
start=$SECONDS
if run12 npx --yes "npm@$NPM12_VERSION" install --no-audit --no-fund "$TGZ" >"$T/install12.log" 2>&1; then
  v12=$(run12 npx --yes "npm@$NPM12_VERSION" --version 2>/dev/null)
  ok "npx npm@$NPM12_VERSION install (npm $v12 on Node $("$N22" --version)) ($((SECONDS - start)) s): $(tail -n1 "$T/install12.log")"
  w=$(warned "$T/install12.log")
  if [ -z "$w" ]; then ok "npm 12: no warning on install"; else bad "npm 12 warned on install: $w"; fi
else
  cat "$T/install12.log"; bad "npx npm@12 install of the tarball"
fi
PKG=$T/app/node_modules/pagewise
[ -e "$PKG/build" ] && bad "a build/ appeared in the installed package: something compiled"

origin=$(run node -p "JSON.stringify(require('$PKG/dist/lib/native/binding.js').nativeOrigin)" 2>&1)
if grep -q '"kind":"prebuild"' <<<"$origin" && grep -q "/prebuilds/linux-$(node -p process.arch)/" <<<"$origin"; then
  ok "loads the shipped prebuild: $origin"
else
  bad "did not load a prebuild: $origin"
fi
labfile=$(run node -p "require('$PKG/dist/lib/native/lab.js').labOrigin()" 2>&1)
if [ "$labfile" = "$PKG/prebuilds/linux-$(node -p process.arch)/lab/pagewise_lab.node" ] &&
  out=$(run node -e "const { cbench } = require('$PKG/dist/lib/bench/cnative.js'); const t = cbench.cbenchGetrusage(0, 10); if (!(t >= 0)) throw new Error(String(t)); console.log(t)" 2>&1); then
  ok "the lab binary loads from the shipped prebuild ($labfile) and runs a C baseline"
else
  bad "the lab prebuild: $labfile $out"
fi

# 3. consumers: the programs of test/consumer/ on every Node of the matrix.
cp "$REPO"/test/consumer/cjs.cjs "$REPO"/test/consumer/esm.mjs "$T/app/"
cp "$REPO"/test/consumer/cjs.cjs "$REPO"/test/consumer/esm.mjs "$T/app12/"
for name in node20 "${MATRIX[@]}"; do
  if [ "$name" = node20 ]; then node_bin=$NODE; else node_bin=$(bash scripts/runtimes.sh path "$name"); fi
  for dir in app app12; do
    [ -d "$T/$dir/node_modules/pagewise" ] || continue
    for f in cjs.cjs esm.mjs; do
      if out=$(cd "$T/$dir" && env -i HOME="$T/home" PATH="$BIN" "$node_bin" "$f" 2>&1); then
        ok "$name, installed by npm $([ "$dir" = app ] && echo 11 || echo 12): $f: $out"
      else
        bad "$name ($dir) $f: $(tail -n 5 <<<"$out")"
      fi
    done
  done
done

# every subpath in package.json "exports" resolves and loads, from CJS and ESM
subpaths=$(run node -p "Object.keys(require('$PKG/package.json').exports).filter(k => k !== './package.json').map(k => 'pagewise' + k.slice(1)).join(' ')")
for sp in $subpaths; do
  if out=$(run node -e "require('$sp'); import('$sp').then(() => console.log('ok'))" 2>&1) && [ "$out" = ok ]; then
    ok "exports: $sp loads from CJS and ESM"
  else
    bad "exports: $sp: $(grep -m1 -E 'Error|error' <<<"$out")"
  fi
done

# TypeScript consumers: TypeScript 5 and 7, --strict, module nodenext, node16
# (an ES module .mts and a CommonJS .cts each) and bundler; no `types`
# setting (TypeScript 6+ defaults it to []: the declarations must reference
# Node's types themselves), skipLibCheck off so the declarations are checked.
cp "$REPO"/test/consumer/esm.mts "$REPO"/test/consumer/cjs.cts "$T/app/"
cp "$REPO"/test/consumer/esm.mts "$T/app/bundler.ts"
for mod in nodenext node16; do
  printf '%s\n' "{ \"compilerOptions\": { \"target\": \"ES2022\", \"module\": \"$mod\", \"moduleResolution\": \"$mod\", \"strict\": true," \
    '  "noEmit": true, "skipLibCheck": false }, "files": ["esm.mts", "cjs.cts"] }' >"$T/app/tsconfig.$mod.json"
done
printf '%s\n' '{ "compilerOptions": { "target": "ES2022", "module": "preserve", "moduleResolution": "bundler", "strict": true,' \
  '  "noEmit": true, "skipLibCheck": false }, "files": ["bundler.ts"] }' >"$T/app/tsconfig.bundler.json"
for ts in ts5 ts7; do
  tsv=$(run node "node_modules/$ts/bin/tsc" --version 2>&1)
  for mod in nodenext node16 bundler; do
    if out=$(run node "node_modules/$ts/bin/tsc" -p "tsconfig.$mod.json" 2>&1); then
      ok "TypeScript consumer ($tsv, --strict, module $mod$([ "$mod" = bundler ] || echo ', ESM and CJS')) compiles"
    else
      bad "TypeScript consumer ($tsv, module $mod): $(head -n 8 <<<"$out")"
    fi
  done
done

# The examples compile against the shipped declarations and run.
printf '%s\n' '{ "compilerOptions": { "target": "ES2022", "module": "node16", "moduleResolution": "node16", "strict": true,' \
  '  "noUncheckedIndexedAccess": true, "rootDir": ".", "outDir": "out", "skipLibCheck": false }, "include": ["examples/*.ts"] }' >"$T/app/tsconfig.json"
mkdir -p "$T/app/examples"
cp "$REPO"/examples/*.ts "$T/app/examples/" 2>/dev/null
if out=$(run node node_modules/ts5/bin/tsc -p tsconfig.json 2>&1); then
  ok "$(ls "$T/app/examples" | wc -l) examples type-check against the shipped declarations (tsc $TS_VERSION)"
else
  bad "tsc of the examples in the consumer project: $(head -n 20 <<<"$out")"
fi
for js in "$T"/app/out/examples/*.js; do
  [ -f "$js" ] || continue
  name=$(basename "$js" .js)
  if out=$(run node "out/examples/$name.js" 2>&1); then ok "example $name runs: $(head -n1 <<<"$out")"; else bad "example $name: $(tail -n5 <<<"$out")"; fi
done

if out=$(run "$BIN/npx" --no-install pagewise --help 2>&1); then
  ok "bin: npx pagewise --help"
else
  bad "bin: npx pagewise --help: $(head -n5 <<<"$out")"
fi

# No matching prebuild and no build: the error must say what to run.
NOPRE=$T/noprebuild/node_modules
mkdir -p "$NOPRE"
cp -r "$PKG" "$NOPRE/pagewise"
ln -s "$T/app/node_modules/bindings" "$NOPRE/bindings"
ln -s "$T/app/node_modules/file-uri-to-path" "$NOPRE/file-uri-to-path"
rm -rf "$NOPRE/pagewise/prebuilds/linux-$(node -p process.arch)"
out=$(cd "$T/noprebuild" && env -i HOME="$T/home" PATH="$BIN" node -e "
  try { require('pagewise'); console.log('LOADED'); } catch (e) { console.log('code=' + e.code); console.log(e.message); }" 2>&1)
if grep -q '^code=ERR_PAGEWISE_NO_BINARY$' <<<"$out" && grep -q 'npm run build-from-source' <<<"$out"; then
  ok "no matching prebuild: ERR_PAGEWISE_NO_BINARY names the build commands"
  sed 's/^/    | /' <<<"$out"
else
  bad "no matching prebuild: unexpected outcome: $out"
fi

# The deliberate fallback: build the shipped sources in the installed copy
# (host PATH: this needs the compiler the consumer runs lacked).
BUILT=$T/built/node_modules
mkdir -p "$BUILT"
cp -r "$PKG" "$BUILT/pagewise"
for dep in bindings file-uri-to-path node-addon-api; do ln -s "$T/app/node_modules/$dep" "$BUILT/$dep"; done
start=$SECONDS
out=
if (cd "$BUILT/pagewise" && npm run build-from-source >"$T/build.log" 2>&1) &&
  out=$(cd "$T/built" && env -i HOME="$T/home" PATH="$BIN" node -e "
    const o = require('$BUILT/pagewise/dist/lib/native/binding.js').nativeOrigin; const pw = require('pagewise');
    const m = pw.mmap(pw.pageSize()); m.view()[0] = 1; m.unmap(); console.log(o.kind + ' ' + o.file)" 2>&1) &&
  grep -q '^build .*/build/Release/pagewise.node$' <<<"$out"; then
  ok "npm run build-from-source in the installed package builds and loads ($((SECONDS - start)) s): $out"
else
  tail -n 20 "$T/build.log"; bad "npm run build-from-source: ${out:-the build failed}"
fi

finish
