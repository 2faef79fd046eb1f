#!/usr/bin/env bash
# The whole test suite. README's second set-up command; .ci/run calls exactly this.
# Needs: rustup (with the wasm32-unknown-unknown target), node + npm (packages install from lockfiles);
# wasm/test.sh installs Chromium with apt-get and the pinned wasm-bindgen CLI with cargo when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
step() { printf '\n=== %s (at %ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "the benchmark tool (tests/bench, its own workspace) compiles lint-free, and its report reads the kept run"
cargo fmt --manifest-path tests/bench/Cargo.toml -- --check
cargo clippy --manifest-path tests/bench/Cargo.toml --locked -- -D warnings
node tests/bench/report.js tests/bench/last-run.jsonl > /dev/null

step "cargo doc (broken links and doc warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

step "the core compiles for the browser (wasm32-unknown-unknown)"
cargo check -p sails-io --target wasm32-unknown-unknown

step "the core's unit tests as the wasm package builds it (no default features: JSON as text, no long-polling)"
cargo test -p sails-io --lib --no-default-features

step "no Debug formatting and no format!/write! in what the wasm build compiles"
scripts/check-wasm-fmt.sh

step "node packages of the real peers (real Sails app, real sails.io.js) from their lockfiles"
tests/interop/ensure-deps.sh tests/interop/sails-app tests/interop/clients

step "cargo test (workspace: core, driver, CLI, stub, client vs stub, fault tests vs real Sails and stub, doc tests)"
cargo test --workspace --all-features

step "interop tools' own tests (EIO4 adapter, transcript comparison)"
(cd tests/interop/clients && npm test)

step "differential conformance: sails.io.js and the Rust client against real Sails and the server-stub, EIO 3 and 4"
tests/interop/run-conformance.sh

step "the npm package sails-io-wasm: build, wasm-bindgen tests in node and headless Chromium, node tests beside sails.io.js, Playwright, tsc"
wasm/test.sh

printf '\n=== all suites passed in %ss\n' "$(( $(date +%s) - started ))"
