#!/usr/bin/env bash
# The load and fault tests of tests/tests/load.rs at full size (CI runs them reduced, 100 sockets x 50):
#
#   tests/bench/load.sh                      # 1,000 sockets x 100 requests each, release build
#   LOAD_SOCKETS=2000 LOAD_REQUESTS=50 tests/bench/load.sh
#
# Every response must arrive, matched to its request, none lost or duplicated; plus the server
# restart under load and the malformed-frame flood. Honours CARGO_TARGET_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export LOAD_SOCKETS=${LOAD_SOCKETS:-1000}
export LOAD_REQUESTS=${LOAD_REQUESTS:-100}
# Client and server share this process: two descriptors per socket.
hard=$(ulimit -Hn)
want=$((LOAD_SOCKETS * 2 + 1024))
if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then ulimit -n "$want"; else ulimit -n "$hard"; fi
echo "load.sh: $LOAD_SOCKETS sockets x $LOAD_REQUESTS requests (ulimit -n $(ulimit -n))" >&2
cd "$root"
exec cargo test --release -p sails-io-conformance --test load -- --nocapture --test-threads 1
