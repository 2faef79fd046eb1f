#!/usr/bin/env bash
# Runs every test of the wasm package and prints `N passed, M failed`; exits non-zero on any failure.
#
#   wasm/test.sh
#
# 1. host unit tests of the crate (cargo test -p sails-io-wasm)
# 2. wasm-bindgen-test suites in node and in headless Chromium, against the server-stub
# 3. node tests of the built package: comparison with sails.io.js 1.2.1 (server-stub + real Sails app),
#    node behaviours, Playwright end-to-end in Chromium, `tsc --noEmit` on typed examples, `npm pack`
#
# Installs what is missing: the wasm32 target, Chromium + chromedriver (apt-get), the pinned wasm-bindgen
# CLI (via build.sh), npm packages from the committed lockfiles. Honours CARGO_TARGET_DIR.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
tools=${SAILS_IO_WASM_TOOLS:-$HOME/.cache/sails-io-wasm-tools}
passed=0
failed=0
start=$(date +%s)
logs=$(mktemp -d)

step() { printf '\n== %s\n' "$*"; }
die() { echo "test.sh: $*" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
count_cargo() { # adds the counts of every `test result:` line in $1
  local p f
  p=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$1" | awk '{ s += $4 } END { print s + 0 }')
  f=$(grep -Eo '[0-9]+ failed;' "$1" | awk '{ s += $1 } END { print s + 0 }')
  passed=$((passed + p)); failed=$((failed + f))
  echo "-- $p passed, $f failed"
}
count_node() { # adds the `# pass N` / `# fail N` totals of a node --test run in $1
  local p f
  p=$(awk '/^# pass / { print $3 }' "$1" | tail -1); f=$(awk '/^# fail / { print $3 }' "$1" | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
  echo "-- ${p:-0} passed, ${f:-?} failed"
}
check() { # one pass/fail for a command
  if "$@"; then passed=$((passed + 1)); echo "-- ok"; else failed=$((failed + 1)); echo "-- FAILED: $*"; fi
}

# ---- setup ----------------------------------------------------------------------------------------------
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
  step "apt-get install chromium chromium-driver"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium chromium-driver \
    || die "could not install chromium"
fi
step "build the package (wasm/build.sh)"
"$here/build.sh" || die "build.sh failed"
export PATH="$tools/bin:$PATH"
step "build the server-stub"
cargo build --manifest-path "$root/Cargo.toml" -p sails-io-stub --locked || die "server-stub build failed"
export SAILS_IO_STUB_BIN=$CARGO_TARGET_DIR/debug/sails-io-stub
step "npm dependencies (lockfiles)"
"$root/tests/interop/ensure-deps.sh" "$root/tests/interop/clients" "$root/tests/interop/sails-app" || die "npm ci (interop) failed"
(cd "$here/test" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in wasm/test failed"

node_major=$(node -p 'process.versions.node.split(".")[0]')
# Node 20 has a global WebSocket only behind this flag (Node 22+ has it by default).
if [ "$node_major" -lt 22 ]; then export NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-websocket"; fi

# ---- 1. host unit tests -----------------------------------------------------------------------------------
step "host: cargo test -p sails-io-wasm"
cargo test --manifest-path "$root/Cargo.toml" -p sails-io-wasm --locked 2>&1 | tee "$logs/host.log"
count_cargo "$logs/host.log"

# ---- 2. wasm-bindgen-test in node and Chromium ------------------------------------------------------------
step "wasm-bindgen-test: node + headless Chromium (server-stub)"
"$SAILS_IO_STUB_BIN" --port 0 > "$logs/stub.out" 2>&1 &
stub_pid=$!
trap 'kill $stub_pid 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$logs/stub.out" && break; sleep 0.1; done
stub_url=$(grep -o 'http://[^ ]*' "$logs/stub.out" | head -1)
[ -n "$stub_url" ] || die "the server-stub did not start: $(cat "$logs/stub.out")"
(cd "$here" && SAILS_IO_STUB_URL=$stub_url CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p sails-io-wasm --target wasm32-unknown-unknown --locked --test node --test browser) 2>&1 | tee "$logs/wasm.log"
grep -q 'Running headless tests in Chrome' "$logs/wasm.log" || { echo "-- the browser suite did not run in Chrome"; failed=$((failed + 1)); }
count_cargo "$logs/wasm.log"
kill $stub_pid 2>/dev/null

# ---- 3. the built package ---------------------------------------------------------------------------------
for suite in compare node e2e; do
  step "node --test wasm/test/$suite.test.js"
  node --test --test-reporter=tap "$here/test/$suite.test.js" 2>&1 | tee "$logs/$suite.log" | grep -E '^(not )?ok |^# (pass|fail)|error:' 
  count_node "$logs/$suite.log"
done

step "tsc --noEmit on the typed examples"
check "$here/test/node_modules/.bin/tsc" -p "$here/test/types/tsconfig.json"

step "npm pack in wasm/pkg"
pack_check() {
  local tgz list app
  tgz=$(cd "$here/pkg" && npm pack --silent --pack-destination "$logs" 2>/dev/null) || return 1
  list=$(tar tzf "$logs/$tgz") || return 1
  for f in package/web/sails_io_wasm_bg.wasm package/web/index.js package/nodejs/index.js package/bundler/index.js; do
    grep -qx "$f" <<< "$list" || { echo "   $f missing from $tgz"; return 1; }
  done
  echo "   $tgz ($(wc -c < "$logs/$tgz") bytes)"
  # Installed from the tarball, the package loads and resolves like any dependency.
  app=$logs/pack-app
  mkdir -p "$app" && echo '{"private":true}' > "$app/package.json"
  (cd "$app" && npm install --no-audit --no-fund --loglevel=error "$logs/$tgz" >/dev/null) || return 1
  (cd "$app" && node -e "
    const io = require('sails-io-wasm')();
    io.sails.autoConnect = false;
    if (typeof io.sails.connect !== 'function' || typeof io.socket.get !== 'function') process.exit(1);
  ")
}
check pack_check

echo
echo "wasm tests: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
