#!/usr/bin/env bash
# The differential conformance suite (issue 5): the four-way comparison, for EIO=3 and EIO=4.
#
#   1. real sails.io.js ⇄ real Sails   (the reference transcript, generated fresh in each run)
#   2. real sails.io.js ⇄ server-stub
#   3. Rust runner      ⇄ real Sails
#   4. Rust runner      ⇄ server-stub
#
# Every run gets a freshly started server on a free loopback port, stopped by its PID. Runs 2–4 are
# compared with the reference of the same EIO by clients/compare.js (allow-list: DEVIATIONS.md), one
# summary line each, then a final `N passed, M failed`; the exit status is non-zero if any failed.
#
# Usage: run-conformance.sh [OUT_DIR]      (default: $INTEROP_OUT or a new temp dir)
# Builds sails-io-stub and the Rust runner (debug) into $CARGO_TARGET_DIR (default: <repo>/target).
# Environment: CONFORMANCE_EIO="3 4" (the EIO versions to run), CONFORMANCE_MAX_DIFFS (default 5).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-${INTEROP_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/sails-conformance.XXXXXX")}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
eio_versions=${CONFORMANCE_EIO:-"3 4"}
max_diffs=${CONFORMANCE_MAX_DIFFS:-5}

now_ms() { date +%s%3N; }
log() { echo "run-conformance: $*" >&2; }
suite_started=$(now_ms)

SERVER_PID=""
SERVER_URL=""

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server $SERVER_PID ignored SIGTERM, killing it"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
  fi
  if [ -n "$SERVER_PID" ]; then
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  SERVER_URL=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# start_server KIND NAME: KIND is `sails` or `stub`; sets SERVER_PID / SERVER_URL (30 s at most).
start_server() {
  local kind=$1 name=$2 started
  started=$(now_ms)
  : > "$out/$name.stdout"
  case "$kind" in
    sails) node "$here/sails-app/app.js" --port 0 > "$out/$name.stdout" 2> "$out/$name.log" & ;;
    stub) "$target_dir/debug/sails-io-stub" --port 0 > "$out/$name.stdout" 2> "$out/$name.log" & ;;
    *) log "unknown server kind $kind"; return 1 ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    SERVER_URL=$(sed -n 's/^listening on \(http:\/\/[0-9.]*:[0-9]*\)$/\1/p' "$out/$name.stdout" | head -n1)
    if [ -n "$SERVER_URL" ]; then
      log "$name listening at $SERVER_URL (pid $SERVER_PID) after $(( $(now_ms) - started )) ms"
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "$name exited before listening; log:"
      cat "$out/$name.log" >&2
      SERVER_PID=""
      return 1
    fi
    sleep 0.1
  done
  log "$name did not print its listening line within 30 s"
  stop_server
  return 1
}

# run_client CLIENT EIO URL OUT: runs one scenario (120 s at most); returns the runner's exit status.
run_client() {
  local client=$1 eio=$2 url=$3 file=$4
  local cmd
  case "$client" in
    sails.io.js) cmd=(node "$here/clients/run-scenario.js") ;;
    rust) cmd=("$target_dir/debug/run-scenario") ;;
  esac
  timeout --kill-after=5 120 "${cmd[@]}" --url "$url" --eio "$eio" --scenario "$here/scenario.json" --out "$file"
}

# --- preparation --------------------------------------------------------------------------------------
"$here/ensure-deps.sh" "$here/sails-app" "$here/clients"
build_started=$(now_ms)
log "building sails-io-stub and the Rust runner into $target_dir"
(cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo build --quiet -p sails-io-stub -p sails-io-conformance --bins)
log "build took $(( $(now_ms) - build_started )) ms"

passed=0
failed=0
summary=()

# compare NAME REFERENCE ACTUAL RUNNER_STATUS: one comparison, counted.
compare() {
  local name=$1 reference=$2 actual=$3 runner_status=$4 line status
  if [ ! -s "$actual" ]; then
    line="$name: no transcript (runner exit status $runner_status)"
    status=1
  elif [ ! -s "$reference" ]; then
    line="$name: no reference transcript"
    status=1
  elif [ "$runner_status" -ge 2 ]; then
    line="$name: the runner crashed (exit status $runner_status)"
    status=1
  elif [ "$runner_status" -eq 1 ]; then
    line="$name: a step's expect did not hold (FAIL lines in the runner's log)"
    status=1
  else
    set +e
    line=$(timeout --kill-after=5 60 node "$here/clients/compare.js" --name "$name" --reference "$reference" --actual "$actual" \
      --deviations "$here/DEVIATIONS.md" --max-diffs "$max_diffs" \
      --write-normalized "$out/normalized" 2>&1)
    status=$?
    set -e
    if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
      line="$name: compare.js failed (exit status $status): $line"
      status=1
    fi
  fi
  echo "$line"
  summary+=("$(echo "$line" | head -n1)")
  if [ "$status" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# --- the runs -----------------------------------------------------------------------------------------
for eio in $eio_versions; do
  reference="$out/reference-eio$eio.jsonl"
  for run in "sails.io.js sails" "sails.io.js stub" "rust sails" "rust stub"; do
    read -r client server <<< "$run"
    server_name=$([ "$server" = sails ] && echo real-sails || echo server-stub)
    client_tag=$([ "$client" = rust ] && echo rust || echo js)
    file="$out/$client_tag-eio$eio-$server_name.jsonl"
    [ "$client" = sails.io.js ] && [ "$server" = sails ] && file=$reference
    rm -f "$file"
    if ! start_server "$server" "$server_name-eio$eio-$client_tag"; then
      runner_status=3
    else
      started=$(now_ms)
      set +e
      run_client "$client" "$eio" "$SERVER_URL" "$file"
      runner_status=$?
      set -e
      log "$client/eio$eio ⇄ $server_name: runner exit status $runner_status in $(( $(now_ms) - started )) ms"
      stop_server
    fi
    if [ "$client" = sails.io.js ] && [ "$server" = sails ]; then
      # The reference must itself be sound: every `expect` of the scenario held against real Sails.
      if [ "$runner_status" -ne 0 ]; then
        echo "sails.io.js/eio$eio vs real-sails (reference): runner exit status $runner_status, the reference is not usable"
        summary+=("sails.io.js/eio$eio reference: runner exit status $runner_status")
        failed=$((failed + 1))
        rm -f "$reference"
      fi
      continue
    fi
    name="$client/eio$eio vs $server_name"
    compare "$name" "$reference" "$file" "$runner_status"
  done
done

stop_server
log "transcripts in $out; suite took $(( $(now_ms) - suite_started )) ms"
echo
echo "Summary:"
for line in "${summary[@]}"; do echo "  $line"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
