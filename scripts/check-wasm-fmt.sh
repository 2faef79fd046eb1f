#!/usr/bin/env bash
# What the wasm build compiles (the core without `native/`, `bin/` and the `polling` feature's module, and
# the wasm crate) stays free of two kinds of formatting:
# - `Debug` formatting (`{…:?}` / `{…:#?}`): wasm/build.sh compiles with `-Zfmt-debug=none`, where it
#   writes nothing; messages quote values with `protocol::json::quoted` instead;
# - `format!` / `write!` / `format_args!` and the printing macros (any use, with arguments or not:
#   the grep does not tell them apart): messages are joined from pieces
#   (`[a, b].concat()`, integers with `text::decimal`) so that `core::fmt`'s formatting engine stays out
#   of the `.wasm` (see client/src/error.rs).
# This lists every such use in those files, outside comments and test modules, and fails if there is one.
#
#   scripts/check-wasm-fmt.sh
set -euo pipefail
cd "$(dirname "$0")/.."

files=(client/src/*.rs client/src/protocol/*.rs wasm/src/*.rs)
code() {
  for f in "${files[@]}"; do
    # Stop at the test module (the last item of these files); print the rest with file and line, then
    # drop comment lines.
    awk '/^#\[cfg\((all\()?test/ { exit } { print FILENAME ":" FNR ": " $0 }' "$f"
  done | grep -Ev '^[^:]+:[0-9]+: *//'
}
status=0
found=$(code | grep -E '\{[A-Za-z0-9_.]*:#?\?\}' || true)
if [ -n "$found" ]; then
  echo "Debug formatting in code the wasm build compiles (it prints nothing there; use protocol::json::quoted):"
  echo "$found"
  status=1
fi
found=$(code | grep -E '\b(format|write|writeln|format_args|print|println|eprintln|panic)!\(' || true)
if [ -n "$found" ]; then
  echo "core::fmt formatting in code the wasm build compiles (join pieces instead, see client/src/error.rs):"
  echo "$found"
  status=1
fi
[ "$status" = 0 ] && echo "no Debug formatting and no format!/write! in ${#files[@]} files the wasm build compiles"
exit "$status"
