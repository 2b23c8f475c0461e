#!/usr/bin/env python3
"""A tiny SD-1.5-shaped UNet2DConditionModel and one noise prediction (models/src/components/unet_2d_condition.rs
is checked against it).

SD 1.5's block structure (cross-attention down blocks then a plain one, mid block with a
transformer, plain up block then cross-attention ones, 8 heads given as attention_head_dim, 1x1
conv projections) shrunk to channels (32, 64), 2 layers a block, text width 64. Weights perturbed,
rounded to fp16, stored in fp16. The latents are non-square (5x7 at the bottom: odd sizes exercise
the upsampling to the skip's size).

Run: .venv-reference/bin/python tests/reference/make_unet_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np
import torch
import diffusers
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "sd-tiny", "unet")


def main():
    torch.manual_seed(11)
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=2,
        cross_attention_dim=64,
        attention_head_dim=8,
        norm_num_groups=32,
    ).eval()
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.05)
            p.copy_(p.half().float())
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in unet.state_dict().items()}, os.path.join(OUT, "diffusion_pytorch_model.safetensors"))
    unet.save_config(OUT)

    g = torch.Generator("cpu").manual_seed(5)
    latents = torch.randn((2, 4, 10, 13), generator=g)
    context = torch.randn((2, 77, 64), generator=g)
    with torch.no_grad():
        out = unet(latents, torch.tensor(621.0), encoder_hidden_states=context).sample
    with open(os.path.join(ROOT, "fixtures", "unet_outputs.json"), "w") as f:
        json.dump({
            "generated_by": "tests/reference/make_unet_fixtures.py",
            "diffusers": diffusers.__version__,
            "latents_shape": list(latents.shape),
            "latents": latents.flatten().tolist(),
            "context_shape": list(context.shape),
            "context": context.flatten().tolist(),
            "timestep": 621.0,
            "noise_pred": out.flatten().tolist(),
        }, f)
    print("unet fixture ->", OUT)


if __name__ == "__main__":
    main()
