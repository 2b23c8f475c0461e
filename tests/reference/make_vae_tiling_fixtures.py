#!/usr/bin/env python3
"""Tiled VAE decode: diffusers' AutoencoderKL with enable_tiling() on the tiny VAE (tile = its
sample_size 32 px = 16 latents, overlap a quarter), on two latent sizes (2x2 tiles and 4x3 tiles
with thin edge tiles). models/src/components/vae.rs's tiled_decode is checked against it.

Run after make_vae_fixtures.py: .venv-reference/bin/python tests/reference/make_vae_tiling_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch
import diffusers
from diffusers import AutoencoderKL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    vae = AutoencoderKL.from_pretrained(os.path.join(ROOT, "fixtures", "sd-tiny", "vae"), torch_dtype=torch.float32).eval()
    vae.enable_tiling()
    assert vae.tile_latent_min_size == 16 and vae.tile_sample_min_size == 32
    cases = []
    g = torch.Generator("cpu").manual_seed(5)
    for h, w in ((24, 20), (40, 36)):
        latents = torch.randn((1, 4, h, w), generator=g)
        with torch.no_grad():
            image = vae.decode(latents).sample
        cases.append({"shape": [1, 4, h, w], "latents": latents.flatten().tolist(), "image": image.flatten().tolist()})
    with open(os.path.join(ROOT, "fixtures", "vae_tiling_outputs.json"), "w") as f:
        json.dump({"generated_by": "tests/reference/make_vae_tiling_fixtures.py", "diffusers": diffusers.__version__, "cases": cases}, f)


if __name__ == "__main__":
    main()
