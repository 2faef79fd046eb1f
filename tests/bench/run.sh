#!/usr/bin/env bash
# Benchmarks of the sails-io clients against the real peers, side by side in one run (issue 7).
#
#   tests/bench/run.sh                 # full run (a few minutes on 2 cores)
#   REPEATS=1 SOCKETS=1000 tests/bench/run.sh   # a quick smoke run
#
# Measures, on loopback, with the same servers for every client in the run:
#   1. sequential round trip (GET /hello) on one socket: native client vs sails.io.js 1.2.1 (node) vs the
#      sails-io-wasm package in node (if wasm/pkg is built), against the real Sails app and the server-stub,
#      plus a raw tokio-tungstenite echo as the floor, and the native client against a scripted server that
#      answers at once (the client's own share of a round trip); the native client runs in a task on
#      tokio's multi-thread runtime, again on a current-thread runtime (rows `rust-ct`) and again on the
#      multi-thread runtime's `block_on` thread, i.e. in the body of `#[tokio::main]` (rows `rust-blockon`);
#   2. pipelined throughput, 500 requests in flight on one socket: native vs sails.io.js (stub, real Sails,
#      and the instant server); rows 1 and 2 also run a bare client that only frames and matches
#      (`rt-raw`, `pipe-raw`): about the best any client could get from each server;
#   3. SOCKETS concurrent sockets in one native client process against the stub: connect time, RSS delta;
#   4. stub vs real Sails: SOCKETS sockets, one broadcast to all (time until the last has it), and
#      requests/s served to 100 sockets;
#   5. gzip size of the web build of sails-io-wasm vs sails.io.js' dist.
# Writes the raw JSON lines to $OUT/results.jsonl and the Markdown tables to $OUT/results.md
# (OUT defaults to tests/bench/results/). Prints figures only: nothing here fails on a time.
#
# Knobs (environment): REPEATS (3), RT_N (2000 sequential requests per repeat), PIPE_N (20000),
# INFLIGHT (500), STUB_INFLIGHT (100, a second pipelined row on the stub), SOCKETS (10000), ROUNDS (7 broadcasts), RPS_SOCKETS (100), RPS_SECS (5),
# STUB_THREADS (1), CARGO_TARGET_DIR.
# Needs cargo, node and npm (the real app and sails.io.js install from their lockfiles on first use).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
REPEATS=${REPEATS:-3}
RT_N=${RT_N:-2000}
PIPE_N=${PIPE_N:-20000}
INFLIGHT=${INFLIGHT:-500}
STUB_INFLIGHT=${STUB_INFLIGHT:-100}
SOCKETS=${SOCKETS:-10000}
ROUNDS=${ROUNDS:-7}
RPS_SOCKETS=${RPS_SOCKETS:-100}
RPS_SECS=${RPS_SECS:-5}
# The stub's threads, as `sails-io-stub --threads` (1, its default: one thread, as Node serves Sails).
export STUB_THREADS=${STUB_THREADS:-1}
OUT=${OUT:-$here/results}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bench=$CARGO_TARGET_DIR/release/sails-bench

say() { printf '== %s\n' "$*" >&2; }

# Every socket is a file descriptor in the client and in the server process.
want_fds=$((SOCKETS + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want_fds" ]; then
  say "ulimit -Hn is $hard: $SOCKETS sockets need about $want_fds descriptors per process; lowering SOCKETS"
  SOCKETS=$((hard - 1024))
fi
ulimit -n "$( [ "$hard" = unlimited ] && echo "$want_fds" || echo "$hard" )"

say "building sails-bench (release)"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
"$root/tests/interop/ensure-deps.sh" "$root/tests/interop/clients" "$root/tests/interop/sails-app"

mkdir -p "$OUT"
results=$OUT/results.jsonl
: > "$results"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# start NAME CMD...: runs a server in the background, waits for its `listening on URL` line,
# sets URL_<NAME> and PID_<NAME>.
start() {
  local name=$1
  shift
  local log=$OUT/$name.out
  "$@" > "$log" 2> "$OUT/$name.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 240); do
    if grep -q '^listening on ' "$log"; then
      printf -v "URL_$name" '%s' "$(sed -n 's/^listening on //p' "$log" | head -n1)"
      printf -v "PID_$name" '%s' "$pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$OUT/$name.err" >&2; echo "$name exited" >&2; exit 1; }
    sleep 0.25
  done
  echo "$name did not start" >&2
  exit 1
}

record() { tee -a "$results" >&2; }
# run LABEL CMD...: one measurement; a failure is reported and the run goes on.
run() {
  local label=$1
  shift
  if ! "$@" | record; then
    say "FAILED: $label"
    printf '{"bench":"failure","client":"%s","server":"-"}\n' "$label" >> "$results"
  fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "starting servers (load average $load_before)"
start stub "$bench" stub
start sails env SAILS_LOG_LEVEL=error node "$root/tests/interop/sails-app/app.js" --port 0
start echo "$bench" echo-server
# The same echo with 4 KiB read buffers (what the native client uses): tungstenite zeroes its read buffer
# up to the buffer's size before every read, 128 KiB by default, which is part of the floor above.
start echo4k "$bench" echo-server --read-buffer 4096
start instant "$bench" instant-server
say "stub $URL_stub (pid $PID_stub), real Sails $URL_sails (pid $PID_sails), echo $URL_echo, instant $URL_instant"

# A snapshot of the wasm package as it is now (wasm/build.sh may rebuild it during the run).
wasm_note=""
wasm_ok=0
wasm_pkg=$OUT/wasm-pkg
rm -rf "$wasm_pkg"
if [ -f "$root/wasm/pkg/nodejs/index.js" ] && [ -f "$root/wasm/pkg/web/sails_io_wasm_bg.wasm" ] &&
  cp -r "$root/wasm/pkg" "$wasm_pkg" 2>/dev/null &&
  [ -f "$wasm_pkg/nodejs/index.js" ] && [ -f "$wasm_pkg/web/index.js" ] && [ -f "$wasm_pkg/web/sails_io_wasm_bg.wasm" ]; then
  wasm_ok=1
  wasm_note="wasm/pkg built $(date -u -r "$root/wasm/pkg/web/sails_io_wasm_bg.wasm" +%FT%TZ)"
else
  wasm_note="wasm/pkg was not built (or was being rebuilt) when the run started"
fi

# How idle vCPUs wait (latencies depend on it, see BENCHMARKS.md): the cpuidle governor and, on a KVM
# guest with the haltpoll driver, how long a vCPU polls before it halts.
cpuidle=$(cat /sys/devices/system/cpu/cpuidle/current_governor 2>/dev/null || echo unknown)
if [ -r /sys/module/haltpoll/parameters/guest_halt_poll_ns ]; then
  halt_poll_ns=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns)
  cpuidle="$cpuidle, guest_halt_poll_ns $halt_poll_ns"
  if [ "$halt_poll_ns" = 0 ]; then
    say "idle vCPUs halt at once (haltpoll guest_halt_poll_ns 0): round trips will mostly time wake-ups;"
    say "for steady latencies run 'echo 200000 > /sys/module/haltpoll/parameters/guest_halt_poll_ns' first (root; BENCHMARKS.md)"
  fi
fi

node -e '
  var os = require("os");
  var cpu = (require("fs").readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) || [])[1];
  console.log(JSON.stringify({ bench: "meta", date: new Date().toISOString(), nproc: os.cpus().length, cpu: cpu,
    mem_total_gib: Math.round(os.totalmem() / 1073741824 * 10) / 10, kernel: os.release(), node: process.version,
    repeats: Number(process.argv[1]), load_before: process.argv[2], wasm_note: process.argv[3], fd_limit: process.argv[4],
    sockets: Number(process.argv[5]), stub_threads: Number(process.argv[6]), cpuidle: process.argv[7] }));
' "$REPEATS" "$load_before" "$wasm_note" "$(ulimit -n)" "$SOCKETS" "$STUB_THREADS" "$cpuidle" | record

for r in $(seq 1 "$REPEATS"); do
  say "repeat $r/$REPEATS: sequential round trips"
  run floor "$bench" floor --url "$URL_echo" --n "$RT_N" --server echo
  run "floor 4k" "$bench" floor --url "$URL_echo4k" --n "$RT_N" --server echo --read-buffer 4096
  run "rt rust instant" "$bench" rt --url "$URL_instant" --n "$RT_N" --server instant
  run "rt rust-ct instant" env RUNTIME=current-thread "$bench" rt --url "$URL_instant" --n "$RT_N" --server instant
  run "rt rust-blockon instant" env CALLER=block-on "$bench" rt --url "$URL_instant" --n "$RT_N" --server instant
  run "rt raw instant" "$bench" rt-raw --url "$URL_instant" --n "$RT_N" --server instant
  for server in stub sails; do
    url_var=URL_$server
    url=${!url_var}
    run "rt rust $server" "$bench" rt --url "$url" --n "$RT_N" --server "$server"
    run "rt rust-ct $server" env RUNTIME=current-thread "$bench" rt --url "$url" --n "$RT_N" --server "$server"
    run "rt rust-blockon $server" env CALLER=block-on "$bench" rt --url "$url" --n "$RT_N" --server "$server"
    run "rt raw $server" "$bench" rt-raw --url "$url" --n "$RT_N" --server "$server"
    run "rt sails.io.js $server" node "$here/sailsio.js" rt --url "$url" --n "$RT_N" --server "$server"
    if [ "$wasm_ok" = 1 ]; then
      run "rt wasm $server" node "$here/sailsio.js" rt --url "$url" --n "$RT_N" --server "$server" --client wasm --pkg "$wasm_pkg"
    fi
  done
  say "repeat $r/$REPEATS: pipelined, $INFLIGHT in flight"
  for server in stub sails; do
    url_var=URL_$server
    url=${!url_var}
    run "pipe rust $server" "$bench" pipe --url "$url" --n "$PIPE_N" --inflight "$INFLIGHT" --server "$server"
    run "pipe sails.io.js $server" node "$here/sailsio.js" pipe --url "$url" --n "$PIPE_N" --inflight "$INFLIGHT" --server "$server"
    # The ceiling: the same load from a bare client that does nothing but frame and match (no JSON).
    run "pipe raw $server" "$bench" pipe-raw --url "$url" --n "$PIPE_N" --inflight "$INFLIGHT" --server "$server"
  done
  # The same against the scripted instant server: what each client can do when the server costs nothing.
  run "pipe rust instant" "$bench" pipe --url "$URL_instant" --n "$PIPE_N" --inflight "$INFLIGHT" --server instant
  run "pipe sails.io.js instant" node "$here/sailsio.js" pipe --url "$URL_instant" --n "$PIPE_N" --inflight "$INFLIGHT" --server instant
  run "pipe raw instant" "$bench" pipe-raw --url "$URL_instant" --n "$PIPE_N" --inflight "$INFLIGHT" --server instant
  # A second, smaller window on the stub (latency with fewer requests queued).
  run "pipe rust stub $STUB_INFLIGHT" "$bench" pipe --url "$URL_stub" --n "$PIPE_N" --inflight "$STUB_INFLIGHT" --server stub
  run "pipe sails.io.js stub $STUB_INFLIGHT" node "$here/sailsio.js" pipe --url "$URL_stub" --n "$PIPE_N" --inflight "$STUB_INFLIGHT" --server stub
  say "repeat $r/$REPEATS: requests/s served to $RPS_SOCKETS sockets"
  for server in stub sails; do
    url_var=URL_$server
    run "rps $server" "$bench" rps --url "${!url_var}" --sockets "$RPS_SOCKETS" --secs "$RPS_SECS" --server "$server"
  done
done

say "$SOCKETS sockets in one client process against the stub"
run many "$bench" many --url "$URL_stub" --n "$SOCKETS" --server stub --server-pid "$PID_stub"
sleep 2
say "$SOCKETS raw tokio-tungstenite connections (the floor of row 3), default and 4 KiB read buffers"
run "many raw" "$bench" many-raw --url "$URL_echo" --n "$SOCKETS" --server echo
sleep 2
run "many raw small" "$bench" many-raw --url "$URL_echo" --n "$SOCKETS" --server echo --read-buffer 4096
sleep 2
say "broadcast to $SOCKETS sockets, $ROUNDS rounds each"
for server in stub sails; do
  url_var=URL_$server
  pid_var=PID_$server
  run "broadcast $server" "$bench" broadcast --url "${!url_var}" --n "$SOCKETS" --rounds "$ROUNDS" --server "$server" --server-pid "${!pid_var}"
  sleep 2
done

say "package sizes"
# What a browser downloads: each file gzip -9 on its own, summed.
gz() {
  local total=0 f
  for f in "$@"; do total=$((total + $(gzip -9 -c "$f" | wc -c))); done
  echo "$total"
}
raw() { cat "$@" | wc -c; }
js_dist="$root/tests/interop/clients/node_modules/sails.io.js/dist/sails.io.js"
printf '{"bench":"size","client":"sails.io.js 1.2.1 dist (bundles socket.io-client 2.0.3)","server":"-","peer":true,"files":"dist/sails.io.js","raw_bytes":%s,"gzip_bytes":%s}\n' \
  "$(raw "$js_dist")" "$(gz "$js_dist")" | record
if [ "$wasm_ok" = 1 ]; then
  web=("$wasm_pkg/web/index.js" "$wasm_pkg/web/sails_io_wasm_bg.wasm")
  printf '{"bench":"size","client":"sails-io-wasm web build (ours)","server":"-","files":"web/index.js + sails_io_wasm_bg.wasm","raw_bytes":%s,"gzip_bytes":%s,"wasm_gzip_bytes":%s}\n' \
    "$(raw "${web[@]}")" "$(gz "${web[@]}")" "$(gz "$wasm_pkg/web/sails_io_wasm_bg.wasm")" | record
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
printf '{"bench":"meta-end","load_after":"%s","date":"%s","wasm_note":"%s"}\n' "$load_after" "$(date -u +%FT%TZ)" "$wasm_note" | record
node "$here/report.js" "$results" > "$OUT/results.md"
say "load average before $load_before, after $load_after"
cat "$OUT/results.md"
