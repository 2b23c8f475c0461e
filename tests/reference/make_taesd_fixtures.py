#!/usr/bin/env python3
"""A tiny AutoencoderTiny (TAESD's structure) and what it computes, alone and as the VAE of the
tiny img2img pipeline (models/src/components/autoencoder_tiny.rs and the pipeline's TAESD path are checked
against it).

diffusers' AutoencoderTiny shrunk to 16 channels and two levels (so it shares the tiny SD's 2x
latent scale), fixed seed, weights perturbed and rounded to fp16, stored in fp16 in
tests/fixtures/sd-tiny/vae_tiny/. Records the latents and the decoded image of a non-square
image, and img2img images (LCM 4 steps, Euler a 9 steps) with the tiny SD and this VAE.

Run after make_pipeline_fixtures.py: .venv-reference/bin/python tests/reference/make_taesd_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np
import torch
import diffusers
from diffusers import AutoencoderTiny
from safetensors.torch import save_file

from make_pipeline_fixtures import MODEL, SEED, reference_image, tiny_components, tiny_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(MODEL, "vae_tiny")
RUNS = [("lcm", 4, 0.6, 1.5), ("euler-a", 9, 0.6, 7.0)]


def main():
    torch.manual_seed(11)
    vae = AutoencoderTiny(
        encoder_block_out_channels=(16, 16),
        decoder_block_out_channels=(16, 16),
        num_encoder_blocks=(1, 2),
        num_decoder_blocks=(2, 1),
        latent_channels=4,
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
    with torch.no_grad():
        latents = vae.encode(x).latents
        decoded = vae.decode(latents).sample

    components = tiny_components()
    runs = []
    for kind, steps, strength, cfg in RUNS:
        out = reference_image(tiny_pipeline(components, kind, vae=vae), steps=steps, strength=strength, cfg=cfg)
        runs.append({"scheduler": kind, "steps": steps, "strength": strength, "cfg": cfg, "seed": SEED, "image": out.flatten().tolist()})
        print(kind, out.shape, float(out.mean()))

    with open(os.path.join(ROOT, "fixtures", "taesd_outputs.json"), "w") as f:
        json.dump({
            "generated_by": "tests/reference/make_taesd_fixtures.py",
            "diffusers": diffusers.__version__,
            "image_shape": [1, 3, h, w],
            "image": x.flatten().tolist(),
            "latents": latents.flatten().tolist(),
            "decoded": decoded.flatten().tolist(),
            "runs": runs,
        }, f)
    print("taesd fixture ->", OUT)


if __name__ == "__main__":
    main()
