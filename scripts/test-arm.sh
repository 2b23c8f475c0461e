#!/usr/bin/env bash
# The CPU kernels on Arm (the Jetson's cores), from an x86-64 machine: keepsake-models' unit tests
# cross-built for aarch64 and run under qemu twice, on a core with the dot-product instructions
# (`-cpu max`: the `sdot` kernel) and on one without (`-cpu cortex-a57`: the portable kernel).
# Not part of scripts/test.sh: the aarch64 build of the dependencies takes ~15 minutes on 2 cores.
#
# Run from anywhere: scripts/test-arm.sh [TEST FILTER]   (default: the int8 kernels, `int8::`)
# Needs: rustup's aarch64-unknown-linux-gnu target, and the Debian/Ubuntu packages
# gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user (installed here when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-int8::}
packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    echo "test-arm: missing ${missing[*]} (fix: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc CARGO_INCREMENTAL=0
binary=$(cargo test -p keepsake-models --locked --no-default-features --lib --target aarch64-unknown-linux-gnu --no-run --message-format=json \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])')
for cpu in max cortex-a57; do
  echo "== $cpu"
  qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$cpu" "$binary" "$filter"
done
