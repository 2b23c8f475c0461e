#!/usr/bin/env python3
"""A1111's "NV" noise source (its port of CUDA's torch.randn to the CPU, modules/rng_philox.py)
for a few seeds: each generator's first call (offset 0) and the calls after it (the ancestral
noise A1111 draws at each step), as float32 bits. models/tests/torch_rng.rs compares
keepsake_models::nv_rng with them bit for bit.

And one txt2img picture of the tiny SD whose starting latents are that source's first draw
(diffusers' StableDiffusionPipeline given `latents=`, Euler: no noise after the start), which
models/tests/pipeline.rs makes with the NV source.

A1111's file is not part of this repository; give the folder that holds it (a checkout of
AUTOMATIC1111/stable-diffusion-webui's modules/):
    .venv-reference/bin/python tests/reference/make_nv_rng_fixtures.py PATH/TO/stable-diffusion-webui/modules
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
import rng_philox  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "nv_rng.json")

# (seed, shapes of the calls in order): a latent of 64x48 px, a 512x512 one, seeds past 32 bits.
CASES = [
    (0, [(3, 4)]),
    (1234, [(1, 4, 6, 8), (1, 4, 6, 8), (1, 4, 6, 8)]),
    (4294967295, [(1, 4, 64, 64)]),
    (2**32 + 7, [(5,), (7,)]),
    (18446744073709551615, [(16,)]),
]


def txt2img():
    import torch
    from diffusers import StableDiffusionPipeline
    from make_pipeline_fixtures import NEGATIVE, PROMPT, tiny_components, tiny_pipeline

    seed, steps, cfg, (h, w) = 1234, 6, 7.0, (48, 64)
    latents = torch.from_numpy(rng_philox.Generator(seed).randn((1, 4, h // 2, w // 2)).astype(np.float32))
    pipe = tiny_pipeline(tiny_components(), "euler", cls=StableDiffusionPipeline)
    with torch.no_grad():
        out = pipe(prompt=PROMPT, negative_prompt=NEGATIVE, height=h, width=w, num_inference_steps=steps, guidance_scale=cfg,
                   latents=latents, output_type="np").images[0]
    return {"scheduler": "euler", "seed": seed, "steps": steps, "cfg": cfg, "width": w, "height": h,
            "image": [round(v, 6) for v in out.flatten().tolist()]}


def main():
    cases = []
    for seed, shapes in CASES:
        g = rng_philox.Generator(seed)
        calls = []
        for shape in shapes:
            values = g.randn(shape).astype(np.float32).flatten()
            calls.append({"shape": list(shape), "bits": [int(v) for v in values.view(np.uint32)]})
        cases.append({"seed": seed, "calls": calls})
    with open(OUT, "w") as f:
        json.dump({"generated_by": "tests/reference/make_nv_rng_fixtures.py", "numpy": np.__version__, "cases": cases,
                   "txt2img": txt2img()}, f)
    print(f"{len(cases)} generators -> {OUT}")


if __name__ == "__main__":
    main()
