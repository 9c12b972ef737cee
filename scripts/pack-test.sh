#!/usr/bin/env bash
# Installs pagewise as a user does and checks it works:
#   1. `npm pack` (prepack: clean dist/, tsc, both prebuilds present), in a
#      staging copy so the working tree's dist/ is left alone;
#   2. a fresh project in a temp dir, npm's default settings (an empty user
#      npmrc, no npm_config_* variables, a fresh HOME), and a PATH with only
#      node, npm and npx: no compiler, no make, no python, so a build cannot
#      happen and the shipped prebuild must load with no install script;
#   3. checks: the tarball's contents, no build happened, the prebuild is what
#      loaded, `require` from CommonJS, `import` from ESM (named exports), every
#      `exports` subpath, a strict TypeScript consumer type-checks against the
#      shipped declarations (and a wrong call fails to), the examples compile
#      and run, the `pagewise` bin runs, and with no matching prebuild the
#      error names exactly what to run.
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

contents=$(tar -tzvf "$TGZ")
for want in package/package.json package/binding.gyp package/scripts/install.js package/dist/lib/index.js \
  package/dist/lib/index.d.ts package/dist/lib/native.js package/native/pagewise.h \
  package/prebuilds/linux-x64/pagewise.node package/prebuilds/linux-arm64/pagewise.node; do
  grep -q " $want\$" <<<"$contents" || bad "tarball lacks $want"
done
for tag in linux-x64 linux-arm64; do
  if grep -q " package/prebuilds/$tag/pagewise-probe\$" <<<"$contents"; then
    grep " package/prebuilds/$tag/pagewise-probe\$" <<<"$contents" | grep -q '^-rwx' ||
      bad "prebuilds/$tag/pagewise-probe is not executable in the tarball"
  fi
done
unwanted=$(grep -E ' package/(test|build|\.cache|node_modules|dist/examples|dist/test)/' <<<"$contents" | head -n3)
[ -z "$unwanted" ] || bad "tarball ships development files: $unwanted"
[ "$failed" -eq 0 ] && ok "tarball contents: dist/lib, native sources, binding.gyp, both prebuilds, install script"

# 2. a fresh project, default npm settings, no compiler on PATH.
BIN=$T/bin
mkdir -p "$BIN" "$T/home" "$T/app"
ln -s "$NODE" "$BIN/node"; ln -s "$NPM" "$BIN/npm"; ln -s "$NPX" "$BIN/npx"; ln -s /bin/sh "$BIN/sh"
: >"$T/npmrc"
run() { # run in the consumer project with a clean environment
  (cd "$T/app" && env -i HOME="$T/home" PATH="$BIN" npm_config_userconfig="$T/npmrc" \
    npm_config_update_notifier=false TMPDIR="$T" "$@")
}
for tool in gcc g++ cc c++ make python3; do
  if run sh -c "command -v $tool" >/dev/null 2>&1; then bad "$tool is on the test PATH"; fi
done 2>/dev/null
cat >"$T/app/package.json" <<'EOF'
{ "name": "pagewise-consumer", "version": "1.0.0", "private": true, "type": "commonjs" }
EOF
start=$SECONDS
if run "$BIN/npm" install --no-audit --no-fund "$TGZ" "typescript@$TS_VERSION" "@types/node@$TYPES_NODE" >"$T/install.log" 2>&1; then
  ok "npm install of the tarball with no compiler on PATH ($((SECONDS - start)) s)"
  sed -n '/pagewise/p' "$T/install.log" | sed 's/^/    | /' 
else
  cat "$T/install.log"; bad "npm install of the tarball"; finish
fi
PKG=$T/app/node_modules/pagewise
[ -e "$PKG/build" ] && bad "a build/ appeared in the installed package: something compiled"

origin=$(run node -p "JSON.stringify(require('$PKG/dist/lib/native.js').nativeOrigin)" 2>&1)
if grep -q '"kind":"prebuild"' <<<"$origin" && grep -q "/prebuilds/linux-$(node -p process.arch)/" <<<"$origin"; then
  ok "loads the shipped prebuild: $origin"
else
  bad "did not load a prebuild: $origin"
fi

# 3. consumers.
cat >"$T/app/cjs.cjs" <<'EOF'
const pw = require('pagewise');
const page = pw.pageSize();
const m = pw.mmap(4 * page);
const v = m.view();
v[0] = 7; v[3 * page] = 9;
const resident = m.residentPages();
m.unmap();
if (resident !== 2 || v.byteLength !== 0) throw new Error(`resident ${resident}, view length after unmap ${v.byteLength}`);
console.log(`cjs ok: page ${page}, resident ${resident}`);
EOF
cat >"$T/app/esm.mjs" <<'EOF'
import { mmap, pageSize, getrusage } from 'pagewise';
import * as pw from 'pagewise';
const page = pageSize();
const m = mmap(2 * page);
m.view()[page] = 1;
const r = getrusage('thread');
m.unmap();
if (typeof pw.mmap !== 'function' || typeof r.minorFaults !== 'number') throw new Error('bad ESM namespace');
console.log(`esm ok: page ${page}`);
EOF
for f in cjs.cjs esm.mjs; do
  if out=$(run node "$f" 2>&1); then ok "$f: $out"; else bad "$f: $out"; fi
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

# TypeScript consumer, strict, node16 resolution (exports + types conditions).
cat >"$T/app/tsconfig.json" <<'EOF'
{ "compilerOptions": { "target": "ES2022", "module": "node16", "moduleResolution": "node16", "strict": true,
  "noUncheckedIndexedAccess": true, "types": ["node"], "outDir": "out", "skipLibCheck": false },
  "include": ["consumer.ts", "examples/*.ts"] }
EOF
cat >"$T/app/consumer.ts" <<'EOF'
import { mmap, pageSize, getrusage, type Mapping, type Rusage } from 'pagewise';
const m: Mapping = mmap(pageSize());
const r: Rusage = getrusage('thread');
const n: number = r.minorFaults;
// @ts-expect-error a length must be a number: the shipped declarations are real, not `any`
mmap('64');
m.unmap();
export { n };
EOF
mkdir -p "$T/app/examples"
cp "$REPO"/examples/*.ts "$T/app/examples/" 2>/dev/null
if out=$(run node node_modules/typescript/bin/tsc -p tsconfig.json 2>&1); then
  ok "TypeScript consumer and $(ls "$T/app/examples" | wc -l) examples type-check against the shipped declarations (tsc $TS_VERSION)"
else
  bad "tsc in the consumer project: $(head -n 20 <<<"$out")"
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
if grep -q '^code=ERR_PAGEWISE_NO_BINARY$' <<<"$out" && grep -q 'npx --yes node-gyp rebuild' <<<"$out" &&
  grep -q 'npm install-scripts approve pagewise && npm rebuild pagewise' <<<"$out"; then
  ok "no matching prebuild: ERR_PAGEWISE_NO_BINARY names the build commands"
  sed 's/^/    | /' <<<"$out"
else
  bad "no matching prebuild: unexpected outcome: $out"
fi

finish
