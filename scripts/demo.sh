#!/usr/bin/env bash
# The main job (README's first command): builds the server-stub and the client, starts the stub on a free
# port, runs the quickstart client and the `sails-io` CLI against it, then stops the stub.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}

cargo build -q -p sails-io-stub -p sails-io --features sails-io/cli --examples --bins
log=$(mktemp)
"$target/debug/sails-io-stub" --port 0 > "$log" &
stub=$!
trap 'kill $stub 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$log" && break
  kill -0 "$stub" 2>/dev/null || { echo "the stub exited before listening" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$log" | head -n1)
[ -n "$url" ] || { echo "the stub did not start" >&2; exit 1; }
echo "== sails-io-stub listening on $url"
echo
echo "== cargo run -p sails-io --example quickstart -- $url"
"$target/debug/examples/quickstart" "$url"
echo
echo "== sails-io request POST '$url/echo?x=1' --data '{\"hello\":\"cli\"}'"
"$target/debug/sails-io" request POST "$url/echo?x=1" --data '{"hello":"cli"}'
