#!/usr/bin/env bash
# The whole test suite: system packages, then every crate's unit and end-to-end tests.
# KEEPSAKE_STRICT_TESTS=1 turns "tool missing, skipping" into failures: here the tools are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-packages.sh
./scripts/test-venv.sh
export KEEPSAKE_STRICT_TESTS=1
# One build from a clean tree: incremental caches only cost disk and time here.
export CARGO_INCREMENTAL=0
# A cold test build takes about 4.2 GB under target/ (README, "The first build"); say so before
# the compiler runs out of room halfway through, with the fix.
target="${CARGO_TARGET_DIR:-target}"
free_gb=$(df --output=avail -BG "$(dirname "$(realpath -m "$target")")" | tail -1 | tr -dc 0-9)
if [ "$free_gb" -lt 8 ]; then
    echo "warning: only ${free_gb} GB free for $target; a cold test build needs about 4.2 GB, and room to spare." >&2
    echo "         Free some space (cargo clean) or point CARGO_TARGET_DIR at a larger disk." >&2
fi
# lavapipe wants a runtime dir; a private one keeps its warnings out of the test output.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
# --no-default-features: without burn's GPU autotune. The tests' GPU is mesa's software rasterizer,
# where tuning compiles dozens of candidate kernels per shape through LLVM (minutes per test); the
# numbers they check are the same with or without it.
cargo test --workspace --locked --no-fail-fast --no-default-features
