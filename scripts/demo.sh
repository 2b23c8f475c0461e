#!/usr/bin/env bash
# The booth demo: three scripted visitors on built-in devices. Screens, narration, prints and the
# archive land in ./demo-out (or the folder given as the first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-packages.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
# A release build: the booth as it runs on the box (a debug build checks every loop of the models).
cargo run --release --locked -p keepsake -- demo --sessions 3 --out "${1:-demo-out}"
