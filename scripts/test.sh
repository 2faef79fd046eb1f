#!/usr/bin/env bash
# The whole test suite. README's second set-up command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test (workspace, incl. doc tests)"
cargo test --workspace --all-features

step "the core compiles for the browser (wasm32-unknown-unknown)"
cargo check -p sails-io --target wasm32-unknown-unknown
