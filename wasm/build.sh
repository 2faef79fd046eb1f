#!/usr/bin/env bash
# Builds the npm package `sails-io-wasm` into wasm/pkg/ (nodejs, web and bundler outputs + package.json)
# and reports the gzip size of what a browser downloads.
#
#   wasm/build.sh
#
# Needs rustup, cargo and node/npm. On first use it adds the wasm32 target, installs the wasm-bindgen CLI
# of exactly the version in Cargo.lock into $SAILS_IO_WASM_TOOLS (default ~/.cache/sails-io-wasm-tools),
# and npm binaryen (wasm-opt), esbuild and terser from wasm/tools/package-lock.json. Honours CARGO_TARGET_DIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
tools=${SAILS_IO_WASM_TOOLS:-$HOME/.cache/sails-io-wasm-tools}
pkg=$here/pkg
budget=36861
crate=sails_io_wasm
start=$(date +%s)

step() { printf '== %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock")
[ -n "$wb_version" ] || { echo "wasm-bindgen not found in Cargo.lock" >&2; exit 1; }
if [ "$("$tools/bin/wasm-bindgen" --version 2>/dev/null || true)" != "wasm-bindgen $wb_version" ]; then
  step "installing wasm-bindgen-cli $wb_version into $tools (once, ~2 min)"
  # No --locked: the CLI's lockfile may pin crates newer than the registry mirror serves.
  cargo install wasm-bindgen-cli --version "$wb_version" --no-default-features --root "$tools" --force
fi
export PATH="$tools/bin:$PATH"

if [ ! -x "$here/tools/node_modules/.bin/wasm-opt" ] || [ ! -d "$here/tools/node_modules/terser" ] || [ ! -x "$here/tools/node_modules/.bin/esbuild" ] || [ "$here/tools/package-lock.json" -nt "$here/tools/node_modules/.package-lock.json" ]; then
  step "npm ci in wasm/tools (binaryen's wasm-opt, esbuild, terser)"
  (cd "$here/tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
wasm_opt=$here/tools/node_modules/.bin/wasm-opt
# What wasm-bindgen's output uses (rustc's wasm32 defaults; the nightly build below drops reference types).
wasm_features="--enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-multivalue"
# Binaryen's inlining limits (why: at the wasm-opt call below).
wasm_inlining="--one-caller-inline-max-function-size 50 --always-inline-max-function-size 5"

# Size: by default the standard library is rebuilt with nightly's -Zbuild-std for size
# (`optimize_for_size`), with panics as immediate traps (`-Cpanic=immediate-abort`: no panic messages,
# locations or formatting; the crate never catches panics, `panic = "abort"` already aborted), without
# `Debug` formatting (`-Zfmt-debug=none`: `{:?}` writes nothing; messages the core and this crate show
# quote values with `protocol::json::quoted` instead), and with each crate instantiating its own generic
# code (`-Zshare-generics=no`: 7 KB smaller after LTO than reusing the standard library's). The nightly
# toolchain and its rust-src are installed here if missing. SAILS_IO_WASM_STABLE=1 builds with the stable
# toolchain instead (a larger .wasm, same behaviour); so does a failed nightly build, with a warning.
# The nightly build also leaves out the reference-types feature (`-Ctarget-feature=-reference-types`, the
# standard library included): wasm-bindgen then keeps JS values in a table in its JS glue instead of an
# externref table in the .wasm, which is 630 B smaller gzipped in all (the .wasm 790 B smaller, the glue
# 160 B larger) and also loads in engines without reference types.
nightly=${SAILS_IO_WASM_NIGHTLY:-nightly}
build_stable() {
  step "cargo build (wasm32, profile wasm-release, stable)"
  cargo build --manifest-path "$root/Cargo.toml" -p sails-io-wasm --target wasm32-unknown-unknown \
    --profile wasm-release --locked
}
build_nightly() {
  if ! rustup run "$nightly" rustc --version >/dev/null 2>&1; then
    step "rustup toolchain install $nightly (minimal, rust-src)"
    rustup toolchain install "$nightly" --profile minimal --component rust-src || return 1
  elif ! rustup component list --toolchain "$nightly" --installed 2>/dev/null | grep -q '^rust-src'; then
    step "rustup component add rust-src --toolchain $nightly"
    rustup component add rust-src --toolchain "$nightly" || return 1
  fi
  step "cargo +$nightly build (wasm32, profile wasm-release, -Zbuild-std, panic=immediate-abort)"
  RUSTFLAGS="${RUSTFLAGS:-} -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none -Zshare-generics=no -Ctarget-feature=-reference-types" \
    cargo "+$nightly" build --manifest-path "$root/Cargo.toml" -p sails-io-wasm --target wasm32-unknown-unknown \
    --profile wasm-release --locked -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size || return 1
  wasm_features=${wasm_features/--enable-reference-types /}
}
if [ "${SAILS_IO_WASM_STABLE:-0}" = 1 ]; then
  build_stable
elif ! build_nightly; then
  echo "WARNING: the nightly build failed; building with stable (larger .wasm)" >&2
  build_stable
fi
wasm=$target_dir/wasm32-unknown-unknown/wasm-release/$crate.wasm

version=$(awk -F'"' '/^version = / { print $2; exit }' "$here/Cargo.toml")
rm -rf "$pkg"
mkdir -p "$pkg"
for target in nodejs web bundler; do
  step "wasm-bindgen --target $target"
  out=$pkg/$target
  # The web build's glue passes strings with TextEncoder.encodeInto only, without the fallback for
  # engines that lack it (every browser since 2021 and node 12 have it; 34 B gzip).
  encode_into=()
  [ "$target" = web ] && encode_into=(--encode-into always)
  wasm-bindgen --target "$target" --out-dir "$out" --out-name "$crate" --no-typescript "${encode_into[@]}" "$wasm"
  # --flatten --rereloop before -Oz, and -Oz until nothing changes: 0.9 % smaller gzipped than one -Oz
  # (about 400 B) for ~5 s more per target. The inlining limits: a function with one caller is inlined
  # only up to size 50 (binaryen counts expressions; by default, whatever its size), and any function up
  # to size 5 always (default 2): the .wasm gets 0.7 % larger but gzips 510 B smaller (limits of 0-200
  # and 1-8 were tried; every pair from 20 to 80 with 2 to 6 beats the defaults).
  "$wasm_opt" --flatten --rereloop -Oz -Oz --converge $wasm_features $wasm_inlining --strip-debug --strip-producers \
    "$out/${crate}_bg.wasm" -o "$out/${crate}_bg.wasm"
  case $target in
    nodejs) entry=node.js; type=commonjs ;;
    web) entry=web.js; type=module ;;
    bundler) entry=bundler.js; type=module ;;
  esac
  # The entry point: the hand-written API (js/core.js) inside the target's wrapper.
  awk -v core="$here/js/core.js" '/^\/\/@@CORE@@$/ { while ((getline line < core) > 0) print line; next } { print }' \
    "$here/js/$entry" > "$out/index.js"
  cp "$here/js/types.d.ts" "$out/types.d.ts"
  cp "$here/js/${entry%.js}.d.ts" "$out/index.d.ts"
  printf '{ "type": "%s", "sideEffects": true }\n' "$type" > "$out/package.json"
  # What a browser downloads as is: the web build's wasm imports and exports get one- or two-letter
  # names, in the .wasm and its glue (tools/short-names.mjs; wasm-bindgen's names are 3 KB), the glue is
  # bundled into index.js (esbuild: one file to download instead of two, and one module for terser,
  # which then shortens the glue's top-level names too), and that file is minified (terser,
  # tools/minify.mjs). The node build stays readable, and bundlers bundle and minify the bundler build
  # themselves (its glue imports the .wasm as an ES module by its export names).
  if [ "$target" = web ]; then
    "$wasm_opt" --minify-imports-and-exports-and-modules -Oz $wasm_features $wasm_inlining \
      "$out/${crate}_bg.wasm" -o "$out/${crate}_bg.wasm" > "$out/names.json"
    node "$here/tools/short-names.mjs" "$out/names.json" "$out/${crate}_bg.wasm" "$out/$crate.js"
    rm "$out/names.json"
    "$here/tools/node_modules/.bin/esbuild" "$out/index.js" --bundle --format=esm --log-level=warning \
      --outfile="$out/index.js" --allow-overwrite
    rm "$out/$crate.js"
    node "$here/tools/minify.mjs" "$out/index.js"
  fi
done

cp "$here/README.md" "$pkg/README.md"
cat > "$pkg/package.json" <<JSON
{
  "name": "sails-io-wasm",
  "version": "$version",
  "description": "A drop-in for sails.io.js (browser and node), built from the sails-io Rust core compiled to WebAssembly",
  "license": "MIT OR Apache-2.0",
  "main": "nodejs/index.js",
  "module": "bundler/index.js",
  "browser": "bundler/index.js",
  "types": "nodejs/index.d.ts",
  "exports": {
    ".": {
      "node": { "types": "./nodejs/index.d.ts", "default": "./nodejs/index.js" },
      "browser": { "types": "./bundler/index.d.ts", "default": "./bundler/index.js" },
      "default": { "types": "./nodejs/index.d.ts", "default": "./nodejs/index.js" }
    },
    "./web": { "types": "./web/index.d.ts", "default": "./web/index.js" },
    "./bundler": { "types": "./bundler/index.d.ts", "default": "./bundler/index.js" },
    "./nodejs": { "types": "./nodejs/index.d.ts", "default": "./nodejs/index.js" },
    "./package.json": "./package.json"
  },
  "files": ["README.md", "nodejs/", "web/", "bundler/"],
  "sideEffects": true,
  "keywords": ["sails", "sails.io.js", "socket.io", "websocket", "wasm"],
  "engines": { "node": ">=20" }
}
JSON

# What a browser downloads: the web build's .wasm and index.js (the wasm-bindgen glue and the API).
raw=$(cat "$pkg/web/${crate}_bg.wasm" "$pkg/web/index.js" | wc -c)
gz_wasm=$(gzip -9c "$pkg/web/${crate}_bg.wasm" | wc -c)
gz_js=$(gzip -9c "$pkg/web/index.js" | wc -c)
gz=$((gz_wasm + gz_js))
wasm_raw=$(wc -c < "$pkg/web/${crate}_bg.wasm")
echo "pkg: $pkg ($(($(date +%s) - start)) s)"
echo "web build: .wasm $wasm_raw B (gzip $gz_wasm B) + index.js, the JS glue and API (gzip $gz_js B) = $raw B raw, $gz B gzip (budget $budget B)"
if [ "$gz" -gt "$budget" ]; then
  echo "WARNING: over the size budget: $gz > $budget bytes gzip (see README, 'Size')" >&2
  if [ "${SAILS_IO_WASM_ENFORCE_BUDGET:-0}" = 1 ]; then exit 1; fi
fi
