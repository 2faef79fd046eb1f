#!/usr/bin/env bash
# Runs every cargo-fuzz target of the client for a fixed time and reports, per target, the inputs tried
# (libFuzzer's stat::number_of_executed_units) and the crashes found.
#
#   client/fuzz/run.sh                 # 60 s per target
#   SECONDS_PER_TARGET=600 client/fuzz/run.sh
#   client/fuzz/run.sh engine_io_frame socket_io_packet   # only these targets
#   FUZZ_JSON=raw client/fuzz/run.sh                      # the core as the wasm package builds it
#
# FUZZ_JSON=raw builds the targets with `--no-default-features`: the core then holds JSON as text checked
# by its own scanner (protocol::json::RawJson) instead of serde_json::Value, as in sails-io-wasm (which
# also leaves out the `polling` feature; the fuzz crate keeps it for the payload target). Those runs share
# the corpus of the default build, keep their own artifacts, and are labelled `+raw`.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo +nightly install cargo-fuzz`). The corpus and any
# crash artifacts go to $FUZZ_WORK (default /tmp/sails-io-fuzz), outside the repository; a crash makes
# the script exit 1 after all targets ran (turn each artifact into a regression test in client/tests/).
# Honours CARGO_TARGET_DIR. Not part of CI.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
secs=${SECONDS_PER_TARGET:-60}
work=${FUZZ_WORK:-/tmp/sails-io-fuzz}
target_dir=${CARGO_TARGET_DIR:-$here/target}
features=()
suffix=""
case "${FUZZ_JSON:-value}" in
  value) ;;
  raw) features=(--no-default-features); suffix="+raw"; target_dir="$target_dir/raw-json" ;;
  *) echo "FUZZ_JSON must be value or raw" >&2; exit 2 ;;
esac

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in "$here"/fuzz_targets/*.rs; do
    targets+=("$(basename "$f" .rs)")
  done
fi

cd "$here"
echo "building ${#targets[@]} fuzz targets (nightly, release, sanitizer address)" >&2
for t in "${targets[@]}"; do
  cargo +nightly fuzz build "${features[@]}" --target-dir "$target_dir" "$t" >&2
done

printf '%-20s %10s %14s %12s %8s\n' target seconds executions exec/s crashes
total_crashes=0
for t in "${targets[@]}"; do
  artifacts=$work/artifacts/$t$suffix
  mkdir -p "$work/corpus/$t" "$artifacts"
  log=$work/$t$suffix.log
  before=$(find "$artifacts" -type f | wc -l)
  # -print_final_stats prints stat::number_of_executed_units; a crash stops libFuzzer with a non-zero exit.
  status=0
  cargo +nightly fuzz run "${features[@]}" --target-dir "$target_dir" "$t" "$work/corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    > "$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  after=$(find "$artifacts" -type f | wc -l)
  crashes=$((after - before))
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes="?(exit $status, see $log)"
    total_crashes=$((total_crashes + 1))
  else
    total_crashes=$((total_crashes + crashes))
  fi
  printf '%-20s %10s %14s %12s %8s\n' "$t$suffix" "$secs" "${execs:-?}" "${rate:-?}" "$crashes"
done
if [ "$total_crashes" != 0 ]; then
  echo "crash artifacts in $work/artifacts/ (logs: $work/*.log)" >&2
  exit 1
fi
