#!/usr/bin/env python3
"""Reference trajectories for the LoRA trainer's optimizers (models/src/training/).

1. AdamW: torch.optim.AdamW (torch's defaults: eps 1e-8, weight decay 1e-2 applied before the
   step), float32 on the CPU.
2. AdamW8bit as bitsandbytes' CUDA kernel computes it (kOptimizerStatic8bit2StateBlockwise for
   tensors of at least min_8bit_size = 4096 elements, kOptimizer32bit2State below), emulated here
   in numpy float32 one operation at a time: blockwise absmax quantization of both moments over
   bnb's dynamic maps (signed for m, unsigned for v), the 7-step quantize_2D search with its
   midpoint rule, m's sign fix, weight decay after the step. Blocks of 256 (bnb >= 0.44) and of
   2048 (bnb <= 0.43, what a 2023 kohya install ran).
   The emulation is checked here against bitsandbytes' own CPU AdamW8bit (blocks of 256) with
   bnb's test tolerances (its CPU path differs on purpose: a lookup-table quantizer, decay before
   the step, no sign fix), and the measured gap is recorded.

The maps come from bitsandbytes.functional.create_dynamic_map. Parameters and gradients are
seeded; five steps (the parameters recorded after the first and the last); sizes below, at and
above 4096, one not a multiple of the block. Arrays are base64 of little-endian float32 (or u8).

Run: .venv-reference/bin/python tests/reference/make_optimizer_fixtures.py
"""
import base64
import json
import os
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
import bitsandbytes as bnb  # noqa: E402
import bitsandbytes.functional as F  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "optimizers.json")
f32 = np.float32

SIZES = [100, 4095, 4096, 5000]
STEPS = 5
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.999), 1e-8, 1e-2


def tensors(seed):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(n, generator=g) * 0.1 for n in SIZES]
    grads = [[torch.randn(n, generator=g) * 0.01 for n in SIZES] for _ in range(STEPS)]
    # A block of exact zeros (kohya's lora_up starts at 0: its down gradient is 0 at step 1).
    grads[0][3][:300] = 0.0
    # Tiny moments beside a large one in the same block: they quantize to the code 0 (positive),
    # and the kernel moves the negative ones to the nearest negative code (its sign fix).
    for step in grads:
        step[3][1000] = 0.05
        step[3][1001:1021] = -1e-10 * torch.arange(1, 21, dtype=torch.float32)
    return params, grads


def bits(a):
    """float32 values as base64 of their little-endian bytes (bit-exact, a third of the text)."""
    return base64.b64encode(np.asarray(a, dtype="<f4").tobytes()).decode()


def codes(a):
    return base64.b64encode(np.asarray(a, dtype=np.uint8).tobytes()).decode()


def quantize_2d(code, x, signed):
    """bnb's quantize_2D: 7 halvings from the middle code, then the midpoint rule."""
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = (f32(-1.0) if signed else f32(0.0)), f32(1.0)
    val = code[127]
    for i in [64, 32, 16, 8, 4, 2, 1]:
        if x > val:
            lower_pivot, lower, pivot = pivot, val, pivot + i
        else:
            upper_pivot, upper, pivot = pivot, val, pivot - i
        val = code[pivot]
    if x > val:
        midpoint = (upper + val) * f32(0.5)
        return upper_pivot if x > midpoint else pivot
    midpoint = (lower + val) * f32(0.5)
    return lower_pivot if x < midpoint else pivot


class AdamW8bitEmulation:
    def __init__(self, sizes, blocksize, qmap1, qmap2):
        self.blocksize, self.q1map, self.q2map = blocksize, qmap1, qmap2
        self.state = []
        for n in sizes:
            if n < 4096:
                self.state.append({"m": np.zeros(n, f32), "v": np.zeros(n, f32)})
            else:
                blocks = -(-n // blocksize)
                self.state.append({"q1": np.zeros(n, np.uint8), "q2": np.zeros(n, np.uint8), "a1": np.zeros(blocks, f32), "a2": np.zeros(blocks, f32)})
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        b1, b2, lr, eps, wd = f32(BETAS[0]), f32(BETAS[1]), f32(LR), f32(EPS), f32(WD)
        # The kernel's __powf is CUDA's fast approximation; here beta^t is the float32 nearest to
        # the double power (numpy's float32 power may use SIMD approximations of its own).
        c1 = f32(1.0) - f32(np.float64(b1) ** self.t)
        c2 = np.sqrt(f32(1.0) - f32(np.float64(b2) ** self.t))
        step_size = (-lr * c2) / c1
        for p, g, s in zip(params, grads, self.state):
            if "m" in s:
                # kOptimizer32bit2State
                for j in range(len(p)):
                    s["m"][j] = s["m"][j] * b1 + (f32(1.0) - b1) * g[j]
                    s["v"][j] = s["v"][j] * b2 + (f32(1.0) - b2) * (g[j] * g[j])
                    p[j] = p[j] + (f32(1.0) * step_size) * (s["m"][j] / (np.sqrt(s["v"][j]) + eps * c2))
                    p[j] = p[j] * (f32(1.0) - lr * wd)
                continue
            bs = self.blocksize
            for b in range(len(s["a1"])):
                lo, hi = b * bs, min((b + 1) * bs, len(p))
                m = np.zeros(hi - lo, f32)
                v = np.zeros(hi - lo, f32)
                for k, j in enumerate(range(lo, hi)):
                    gj = g[j]
                    if np.isfinite(gj):
                        v[k] = self.q2map[s["q2"][j]] * s["a2"][b]
                        v[k] = v[k] * b2 + (f32(1.0) - b2) * gj * gj
                        m[k] = self.q1map[s["q1"][j]] * s["a1"][b]
                        m[k] = m[k] * b1 + (f32(1.0) - b1) * gj
                a1, a2 = np.max(np.abs(m)), np.max(np.abs(v))
                s["a1"][b], s["a2"][b] = a1, a2
                for k, j in enumerate(range(lo, hi)):
                    if np.isfinite(g[j]):
                        p[j] = p[j] + step_size * (m[k] / (np.sqrt(v[k]) + c2 * eps))
                        p[j] = p[j] * (f32(1.0) - lr * wd)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        q1 = quantize_2d(self.q1map, m[k] / a1, True)
                        if np.signbit(self.q1map[q1]) != np.signbit(m[k]):
                            # An unsigned char in the kernel: 0 - 1 wraps (only where absmax is 0).
                            q1 = (q1 + (1 if m[k] > 0 else -1)) % 256
                        q2 = quantize_2d(self.q2map, v[k] / a2, False)
                    s["q1"][j], s["q2"][j] = q1, q2


def main():
    qmap1 = F.create_dynamic_map(signed=True).numpy().astype(f32)
    qmap2 = F.create_dynamic_map(signed=False).numpy().astype(f32)

    params, grads = tensors(11)
    torch_params = [torch.nn.Parameter(p.clone()) for p in params]
    opt = torch.optim.AdamW(torch_params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
    adamw_steps = []
    for step in range(STEPS):
        for p, g in zip(torch_params, grads[step]):
            p.grad = g.clone()
        opt.step()
        if step in (0, STEPS - 1):
            adamw_steps.append([bits(p.detach().numpy()) for p in torch_params])

    runs = []
    for blocksize in [256, 2048]:
        emu = AdamW8bitEmulation(SIZES, blocksize, qmap1, qmap2)
        ps = [p.numpy().astype(f32).copy() for p in params]
        steps = []
        for step in range(STEPS):
            emu.step(ps, [g.numpy().astype(f32) for g in grads[step]])
            if step in (0, STEPS - 1):
                steps.append([bits(p) for p in ps])
        state = []
        for s in emu.state:
            if "m" in s:
                state.append({"m": bits(s["m"]), "v": bits(s["v"])})
            else:
                state.append({"q1": codes(s["q1"]), "q2": codes(s["q2"]), "absmax1": bits(s["a1"]), "absmax2": bits(s["a2"])})
        runs.append({"blocksize": blocksize, "params_after_first_and_last_step": steps, "state": state})

        if blocksize == 256:
            # bitsandbytes' own CPU optimizer: close, not equal (see the docstring).
            bnb_params = [torch.nn.Parameter(p.clone()) for p in params]
            bopt = bnb.optim.AdamW8bit(bnb_params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
            for step in range(STEPS):
                for p, g in zip(bnb_params, grads[step]):
                    p.grad = g.clone()
                bopt.step()
            gap = [float(np.abs(bp.detach().numpy() - ours).mean()) for bp, ours in zip(bnb_params, ps)]
            assert max(gap) < 6e-5, f"emulation and bitsandbytes-CPU differ by {gap}"
            runs[-1]["mean_abs_gap_to_bitsandbytes_cpu"] = gap

    with open(OUT, "w") as f:
        json.dump({
            "generated_by": "tests/reference/make_optimizer_fixtures.py",
            "torch": torch.__version__, "bitsandbytes": bnb.__version__,
            "sizes": SIZES, "lr": LR, "betas": BETAS, "eps": EPS, "weight_decay": WD,
            "params": [bits(p.numpy()) for p in params],
            "grads": [[bits(g.numpy()) for g in step] for step in grads],
            "qmap1": bits(qmap1), "qmap2": bits(qmap2),
            "adamw_params_after_first_and_last_step": adamw_steps,
            "adamw8bit": runs,
        }, f)
    print(f"-> {OUT}", [r.get("mean_abs_gap_to_bitsandbytes_cpu") for r in runs])


if __name__ == "__main__":
    main()
