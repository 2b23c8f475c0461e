#!/usr/bin/env python3
"""A tiny SD-1.5-shaped AutoencoderKL and what it computes (models/src/components/vae.rs is checked against it).

diffusers' AutoencoderKL with SD 1.5's structure (DownEncoderBlock2D/UpDecoderBlock2D, 2 resnets a
block, mid-block attention, 4 latent channels) shrunk to block channels (32, 64), with fixed seeds,
every weight perturbed and rounded to fp16, stored in fp16. For a non-square image it records the
posterior mean and std, a posterior sample drawn with torch.Generator("cpu") (scalar kernel), and
the decoded image.

Run: .venv-reference/bin/python tests/reference/make_vae_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np
import torch
import diffusers
from diffusers import AutoencoderKL
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "sd-tiny", "vae")


def main():
    torch.manual_seed(7)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=2,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=32,
    ).eval()
    with torch.no_grad():
        for p in vae.parameters():
            p.add_(torch.randn_like(p) * 0.05)
            p.copy_(p.half().float())
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in vae.state_dict().items()}, os.path.join(OUT, "diffusion_pytorch_model.safetensors"))
    vae.save_config(OUT)

    h, w = 48, 40
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    image = np.stack([np.sin(xx * 0.2) * np.cos(yy * 0.15), np.cos(xx * 0.1 + yy * 0.05), np.sin((xx + yy) * 0.07)]).astype(np.float32)
    x = torch.from_numpy(image)[None]
    g = torch.Generator("cpu").manual_seed(99)
    with torch.no_grad():
        dist = vae.encode(x).latent_dist
        sample = dist.sample(generator=g)
        decoded = vae.decode(sample).sample
    out = {
        "generated_by": "tests/reference/make_vae_fixtures.py",
        "diffusers": diffusers.__version__,
        "image_shape": [1, 3, h, w],
        "image": x.flatten().tolist(),
        "mean": dist.mean.flatten().tolist(),
        "std": dist.std.flatten().tolist(),
        "sample_seed": 99,
        "sample": sample.flatten().tolist(),
        "decoded": decoded.flatten().tolist(),
    }
    with open(os.path.join(ROOT, "fixtures", "vae_outputs.json"), "w") as f:
        json.dump(out, f)
    print("vae fixture ->", OUT)


if __name__ == "__main__":
    main()
