#!/usr/bin/env bash
# wasm/build.sh compiles the core and the wasm crate with `-Zfmt-debug=none`, where `{:?}` writes nothing.
# So the code that build compiles must not format a value with `Debug` (messages quote values with
# `protocol::json::quoted` instead). This lists every `{…:?}` / `{…:#?}` in those files, outside comments
# and test modules, and fails if there is one.
#
#   scripts/check-wasm-debug-fmt.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# What the wasm build compiles of the core (`native/` and `bin/` are not built for wasm32) and the wasm crate.
files=(client/src/lib.rs client/src/error.rs client/src/connection.rs client/src/protocol/*.rs wasm/src/*.rs)
found=$(
  for f in "${files[@]}"; do
    # Stop at the test module (the last item of these files); print the rest with file and line, then
    # drop comment lines.
    awk '/^#\[cfg\((all\()?test/ { exit } { print FILENAME ":" FNR ": " $0 }' "$f"
  done | grep -Ev '^[^:]+:[0-9]+: *//' | grep -E '\{[A-Za-z0-9_.]*:#?\?\}' || true
)
if [ -n "$found" ]; then
  echo "Debug formatting in code the wasm build compiles (it prints nothing there; use protocol::json::quoted):"
  echo "$found"
  exit 1
fi
echo "no Debug formatting in ${#files[@]} files the wasm build compiles"
