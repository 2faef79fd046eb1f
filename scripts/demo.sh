#!/usr/bin/env bash
# The main job: README's first set-up command.
# For now it drives the sans-IO core through a scripted Sails session (EIO 3, then EIO 4); it will start the
# server-stub and talk to it with the native client once those land.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p sails-io --example scripted_session -- 3
echo
cargo run -q -p sails-io --example scripted_session -- 4
