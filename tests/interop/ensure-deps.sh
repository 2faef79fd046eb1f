#!/usr/bin/env bash
# Usage: ensure-deps.sh DIR...
# Runs `npm ci` in each DIR (a folder with package.json + package-lock.json)
# only when node_modules is missing or was installed from another lockfile.
# The lockfile's sha256 is kept in node_modules/.interop-lock.sha256.
set -euo pipefail
for dir in "$@"; do
  lock="$dir/package-lock.json"
  stamp="$dir/node_modules/.interop-lock.sha256"
  [ -f "$lock" ] || { echo "ensure-deps: no $lock" >&2; exit 1; }
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -d "$dir/node_modules" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    continue
  fi
  echo "ensure-deps: npm ci in $dir" >&2
  start=$(date +%s)
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" > "$stamp"
  echo "ensure-deps: $dir ready in $(( $(date +%s) - start ))s" >&2
done
