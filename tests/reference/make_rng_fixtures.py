#!/usr/bin/env python3
"""Reference noise for Keepsake's port of PyTorch's CPU generator (models/src/torch_rng.rs).

Draws torch.randn with torch.Generator("cpu").manual_seed(seed) for several seeds and sizes, in the
order diffusers draws (several calls on one generator), for each CPU kernel PyTorch can dispatch
to (ATEN_CPU_CAPABILITY=default: the scalar Box-Muller of ARM and AVX-512 builds; =avx2: the
avx_mathfun polynomials). Values are stored as float32 bit patterns.

Run: tests/reference/setup-venv.sh torch && .venv-reference/bin/python tests/reference/make_rng_fixtures.py
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "torch_rng.json")

# (seed, [numel of each consecutive randn call on the same generator])
CASES = [
    (0, [16384]),
    (42, [4 * 40 * 32, 4 * 40 * 32, 16, 16]),  # VAE posterior sample, img2img noise, two ancestral steps
    (1234567, [17, 33, 100]),  # sizes that are not a multiple of 16
    (2**32 + 7, [5, 3, 1, 16]),  # small sizes: double normals with the cached second value
    (18446744073709551615, [64]),
]


def draw():
    import torch

    out = []
    for seed, sizes in CASES:
        g = torch.Generator("cpu").manual_seed(seed)
        calls = []
        for n in sizes:
            t = torch.randn(n, generator=g, dtype=torch.float32)
            calls.append([int(b) for b in t.view(torch.int32).numpy().astype("uint32")])
        out.append({"seed": str(seed), "calls": calls})
    return {"torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability(), "cases": out}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--draw":
        json.dump(draw(), sys.stdout)
        return
    result = {}
    for name, cap in [("scalar", "default"), ("avx2", "avx2")]:
        env = dict(os.environ, ATEN_CPU_CAPABILITY=cap)
        text = subprocess.check_output([sys.executable, __file__, "--draw"], env=env)
        result[name] = json.loads(text)
        print(name, "->", result[name]["capability"], "torch", result[name]["torch"])
    with open(OUT, "w") as f:
        json.dump({"generated_by": "tests/reference/make_rng_fixtures.py", **result}, f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
