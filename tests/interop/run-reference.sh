#!/usr/bin/env bash
# Reference half of the differential suite (issue 5):
#   real sails.io.js 1.2.1 ⇄ real Sails 1.5.18 + sails-hook-sockets 3.0.2,
#   once over Engine.IO 3 (socket.io-client 2.0.3) and once over Engine.IO 4
#   (socket.io-client 4 through clients/eio4-adapter.js), each against a freshly
#   lifted app on a free loopback port.
#
# Usage: run-reference.sh [OUT_DIR]      (default: $INTEROP_OUT or a new temp dir)
# Writes OUT_DIR/reference-eio3.jsonl, OUT_DIR/reference-eio4.jsonl and the app
# logs, compares the two transcripts (after normalisation they must be equal,
# up to DEVIATIONS.md), and exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${INTEROP_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/sails-interop.XXXXXX")}}
mkdir -p "$out"
out=$(cd "$out" && pwd)

now_ms() { date +%s%3N; }

"$here/ensure-deps.sh" "$here/sails-app" "$here/clients"

APP_PID=""
APP_URL=""

stop_app() {
  if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then
    kill -TERM "$APP_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$APP_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$APP_PID" 2>/dev/null; then
      echo "run-reference: app $APP_PID ignored SIGTERM, killing it" >&2
      kill -KILL "$APP_PID" 2>/dev/null || true
    fi
    wait "$APP_PID" 2>/dev/null || true
  fi
  APP_PID=""
}
trap stop_app EXIT

# start_app NAME: lifts the app on port 0 and sets APP_PID / APP_URL.
start_app() {
  local name=$1 started
  started=$(now_ms)
  : > "$out/$name.stdout"
  node "$here/sails-app/app.js" --port 0 > "$out/$name.stdout" 2> "$out/$name.log" &
  APP_PID=$!
  for _ in $(seq 1 300); do
    if grep -q '^listening on http://127.0.0.1:[0-9]*$' "$out/$name.stdout"; then
      APP_URL=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$out/$name.stdout" | head -n1)
      echo "run-reference: $name lifted at $APP_URL (pid $APP_PID) in $(( $(now_ms) - started )) ms" >&2
      return 0
    fi
    if ! kill -0 "$APP_PID" 2>/dev/null; then
      echo "run-reference: the Sails app exited before listening; log:" >&2
      cat "$out/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "run-reference: the Sails app did not print its listening line within 30 s" >&2
  return 1
}

status=0
for eio in 3 4; do
  start_app "sails-eio$eio"
  started=$(now_ms)
  if ! node "$here/clients/run-scenario.js" --url "$APP_URL" --eio "$eio" \
      --scenario "$here/scenario.json" --out "$out/reference-eio$eio.jsonl"; then
    echo "run-reference: scenario failed with EIO=$eio (see messages above)" >&2
    status=1
  fi
  echo "run-reference: EIO=$eio scenario took $(( $(now_ms) - started )) ms" >&2
  stop_app
done

if ! node "$here/clients/compare.js" --name "sails.io.js EIO4 vs sails.io.js EIO3 (real Sails)" \
    --reference "$out/reference-eio3.jsonl" --actual "$out/reference-eio4.jsonl" \
    --deviations "$here/DEVIATIONS.md"; then
  status=1
fi

echo "run-reference: transcripts in $out" >&2
exit $status
