#!/usr/bin/env bash
# The GPU benchmark of docs/BENCHMARKS.md in one go, on the GPU machine of
# ../shared/notes/device-runs.md (no network, no Rust, no Vulkan loader, no diffusers there).
#
#   scripts/device-bench.sh prepare     here: the stripped release binary, the Vulkan loader
#                                       packages and the diffusers wheel into .device/ (ignored by
#                                       git; pass it to the device run as `carry: [".device"]`)
#   scripts/device-bench.sh run         there: the table, into $OUT (or ./device-out), < 10 min
#   scripts/device-bench.sh rehearse    here: the same steps with CPU PyTorch and mesa's software GPU,
#                                       on two cheap scenarios, with the debug binary
#
# What `run` does: puts the Vulkan loader and diffusers where they are found, prints what the
# binary finds (adapter, driver, compiler, shader-f16, cooperative matrix, memory), makes SD 1.5's
# architecture with random weights (tests/reference/bench_pytorch.py, on the machine's CPUs),
# times diffusers fp16 on CUDA and then Keepsake on the same card in the same run (one untimed
# warm-up run, the median of 5), Keepsake's CPU picture for the PSNR check, and the AGX Orin /
# Orin Nano estimates from the measured rate.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
kit=.device
out="${OUT:-$PWD/device-out}"
mkdir -p "$out"
log() { echo "[device-bench $(date +%T)] $*" | tee -a "$out/device-bench.log" >&2; }

case "$mode" in
  prepare)
    mkdir -p "$kit/debs" "$kit/wheels"
    cargo build --release --locked -p keepsake
    # Stripped and xz-compressed: the device run carries at most 64 MiB.
    strip -o "$kit/keepsake" target/release/keepsake
    xz -9 -T0 -f "$kit/keepsake"
    (cd "$kit/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    pip download --quiet --no-deps --dest "$kit/wheels" diffusers==0.42.1
    du -sh "$kit"
    size=$(du -sm "$kit" | cut -f1)
    if [ "$size" -gt 64 ]; then echo "$kit is $size MiB: over the 64 MiB a device run carries" >&2; exit 1; fi
    exit 0
    ;;
  run | rehearse) ;;
  *)
    echo "usage: $0 prepare|run|rehearse" >&2
    exit 2
    ;;
esac

# The Vulkan loader, unpacked from its Debian packages where the system has none.
if [ -d "$kit/debs" ] && ls "$kit"/debs/*.deb > /dev/null 2>&1; then
  root=/tmp/keepsake-vulkan
  for deb in "$kit"/debs/*.deb; do dpkg -x "$deb" "$root"; done
  export LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "Vulkan loader from $kit/debs"
fi
if [ "$mode" = run ] && [ -z "${VK_DRIVER_FILES:-}" ] && ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* > /dev/null 2>&1; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/glvnd/egl_vendor.d/../../vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; break; fi
  done
  log "NVIDIA Vulkan driver: ${VK_DRIVER_FILES:-not found}"
fi

# diffusers (the machine has PyTorch and transformers, not diffusers).
python=python3
if [ -d .venv-reference ]; then python=.venv-reference/bin/python; fi
if ! "$python" -c "import diffusers" 2> /dev/null; then
  pip install --quiet --no-index --no-deps --target /tmp/keepsake-site "$kit"/wheels/diffusers-*.whl
  export PYTHONPATH="/tmp/keepsake-site${PYTHONPATH:+:$PYTHONPATH}"
fi

bin="${KEEPSAKE_BIN:-/tmp/keepsake-bin/keepsake}"
if [ "$mode" = run ] && [ -z "${KEEPSAKE_BIN:-}" ]; then
  # No xz on the GPU machine is assumed: Python's lzma unpacks it.
  mkdir -p /tmp/keepsake-bin
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$kit/keepsake.xz" "$bin"
  chmod +x "$bin"
fi
if [ "$mode" = rehearse ] && [ -z "${KEEPSAKE_BIN:-}" ]; then
  # The test build's binary (the same features as the test suite: nothing is built twice).
  cargo test --workspace --locked --no-run --no-default-features
  bin=target/debug/keepsake
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
# The autotune results of this run stay with it (the booth keeps its own in its state folder).
export KEEPSAKE_GPU_CACHE="$out/gpu-cache"

log "what the binary finds"
"$bin" doctor 2>&1 | grep -E "GPU|diffusion compute" | tee "$out/doctor-gpu.txt" || true
# burn's CUDA backend is not in this build (cubecl-cuda downloads an LLVM bundle at build time,
# which the build machine cannot reach): wgpu only.
backends=(wgpu)

work="${BENCH_DIR:-/tmp/keepsake-bench}"
if [ "$mode" = run ]; then
  device=cuda
  only=(--only text-encode --only unet-step --only vae-decode --only taesd-decode --only img2img-lcm --only img2img-lcm-int8 --only img2img-lcm-int8-3cn)
  runs=5
else
  device=cpu
  # mesa's software OpenGL caps one buffer at 128 MiB: the f32 token embedding (145 MiB) of the
  # text encoder does not fit, so the rehearsal times what does (the GPU run times all).
  only=(--only taesd-decode)
  runs=2
fi

log "PyTorch ($device) and Keepsake (${backends[*]}) on the same machine, $runs timed runs each"
"$python" tests/reference/bench_pytorch.py "$work" --device "$device" --runs "$runs" --skip-keepsake "${only[@]}" 2>&1 | tee "$out/pytorch.txt"
for backend in "${backends[@]}"; do
  "$bin" bench --dir "$work" --backend "$backend" --runs "$runs" "${only[@]}" | tee "$out/keepsake-$backend.md"
done
if [ "$mode" = run ]; then
  log "the CPU picture of the booth recipe, for the PSNR of the GPU's (the GPU pictures are already on disk)"
  "$bin" bench --dir "$work" --backend cpu --runs 1 --only img2img-lcm-int8 --only img2img-lcm | tee "$out/keepsake-cpu.md"
  for backend in "${backends[@]}"; do
    # Only the comparison lines: the scenario itself is not run again for them.
    "$bin" bench --dir "$work" --backend "$backend" --psnr-only | tee -a "$out/keepsake-$backend.md"
  done
fi

log "estimates for Jetson boards from the measured rate"
"$python" - "$out/keepsake-wgpu.md" "$out/doctor-gpu.txt" << 'EOF' | tee "$out/estimates.md"
import re, sys
# Work per scenario (GFLOP, analytic count of SD 1.5 at 512x512, ../shared/notes/performance.md):
# one UNet eval 803, batch 2 per CFG step; ControlNet adds its down and mid blocks (262 per eval).
UNET, CONTROLNET = 803.0, 262.0
work = {"unet-step": 2 * UNET, "img2img-lcm-int8": 4 * 2 * UNET, "img2img-lcm-int8-3cn": 4 * 2 * (UNET + 3 * CONTROLNET)}
# Dense f16 tensor-core peaks (TFLOPS): H200 SXM 989 (NVIDIA's datasheet); AGX Orin ~42 and Orin
# Nano Super ~17 (half their dense int8 rates, performance.md: estimates).
peak = {"H200": 989.0, "AGX Orin": 42.0, "Orin Nano Super": 17.0}
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"\| ([\w-]+): .*? \| ([\d.]+) \|", line)
    if m and m.group(1) in work:
        rows[m.group(1)] = float(m.group(2))
print("| scenario | measured s | achieved TFLOPS | share of the card's f16 peak | AGX Orin s (estimate) | Orin Nano Super s (estimate) |")
print("| --- | --- | --- | --- | --- | --- |")
for name, seconds in rows.items():
    rate = work[name] / seconds / 1000.0
    share = rate / peak["H200"]
    est = {board: work[name] / 1000.0 / (share * peak[board]) for board in ("AGX Orin", "Orin Nano Super")}
    print(f"| {name} | {seconds:.3f} | {rate:.1f} | {share:.1%} | {est['AGX Orin']:.2f} | {est['Orin Nano Super']:.2f} |")
print("\nEstimates, not measurements: the same share of each board's f16 peak as reached on this card.")
EOF
log "done: $out"
