#!/usr/bin/env bash
# Installs the app's node packages from the lockfile when needed, then runs
# the app in the foreground (exec, so the PID you get is node's):
#   ./start.sh [--port N]      (default: PORT env or 0 = any free port)
# Prints `listening on http://127.0.0.1:<port>` on stdout once ready.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../ensure-deps.sh" "$here"
exec node "$here/app.js" "$@"
