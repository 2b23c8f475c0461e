#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Keepsake's demo and tests use, or prints the exact command
# when this user cannot install them.
#   espeak-ng            narration (Korean and English voices)
#   mesa-vulkan-drivers  lavapipe: a Vulkan GPU adapter on CPU-only machines (GPU path of the filter)
#   libvulkan1           the Vulkan loader wgpu opens
#   libegl1 libegl-mesa0 libgl1-mesa-dri  llvmpipe through OpenGL: the model's GPU (WGSL) path on
#                        CPU-only machines (lavapipe crashes compiling cubecl's SPIR-V)
#   systemd              systemd-analyze, to verify the service unit
#   socat                pseudo-terminal pairs standing in for serial devices (button box, thermal printer)
#   cups cups-client     a sandboxed CUPS (with its filters) on 127.0.0.1 the photo-printer tests print to
#   poppler-utils        pdftoppm, to look at the page CUPS wrote
#   libasound2-dev pkg-config  ALSA, which the speaker (rodio/cpal) is built against
#   libclang-dev         bindgen reads the V4L2 headers for the camera driver (nokhwa/v4l)
#   xvfb                 an X server without a screen, for the development window's test
#   fonts-nanum          NanumGothic: large anti-aliased Korean type on screens and cards
#   fonts-dejavu-core    a Latin-only font, to test that one without Hangul is refused
#   postgresql           a private PostgreSQL cluster the memorial server's tests start on 127.0.0.1
#   chromium             headless Chromium for the click-through of the memorial server's pages
#   python3-venv         the venv the browser and object-store tests install from PyPI (scripts/test-venv.sh)
set -euo pipefail
packages=(espeak-ng mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri systemd socat cups cups-client poppler-utils libasound2-dev pkg-config libclang-dev xvfb fonts-nanum fonts-dejavu-core postgresql chromium python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "Keepsake needs: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
