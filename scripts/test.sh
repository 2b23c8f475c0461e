#!/usr/bin/env bash
# The whole test suite: system packages, then every crate's unit and end-to-end tests.
# KEEPSAKE_STRICT_TESTS=1 turns "tool missing, skipping" into failures: here the tools are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-packages.sh
./scripts/test-venv.sh
export KEEPSAKE_STRICT_TESTS=1
# lavapipe wants a runtime dir; a private one keeps its warnings out of the test output.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
# --no-default-features: without burn's GPU autotune. The tests' GPU is mesa's software rasterizer,
# where tuning compiles dozens of candidate kernels per shape through LLVM (minutes per test); the
# numbers they check are the same with or without it.
cargo test --workspace --locked --no-fail-fast --no-default-features
