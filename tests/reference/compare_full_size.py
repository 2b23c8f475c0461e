#!/usr/bin/env python3
"""Full-size SD 1.5 (diffusers' default architecture, random weights) against Keepsake.

1. Builds SD 1.5's UNet (cross_attention_dim 768), VAE and CLIP ViT-L text encoder with random
   weights (fixed seeds, norms perturbed, rounded to fp16), writes them as one LDM-layout
   single-file checkpoint (the layout users have), OUT/sd15-random.safetensors.
2. Runs one UNet step (batch 2, as with CFG, 512x512 -> 64x64 latents) and one VAE decode in
   diffusers on the CPU, timing each, and saves inputs and outputs to OUT/reference.safetensors.
3. Then: cargo run --release -p keepsake-models --example compare_full_size -- OUT
   loads the checkpoint, runs the same two computations in burn, prints the max abs differences
   and the time ratios (ours / PyTorch, same machine, same run).

Run: .venv-reference/bin/python tests/reference/compare_full_size.py OUT_DIR   (needs ~8 GB RAM, a few GB disk)
"""
import json
import os
import sys
import time

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

from make_single_file_fixtures import unet_key, vae_key


def perturb(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
            p.copy_(p.half().float())
    return model.eval()


def build_sd15():
    """SD 1.5's UNet, VAE and text encoder with random fp16-rounded weights (fixed seeds)."""
    torch.manual_seed(0)
    unet = perturb(UNet2DConditionModel(cross_attention_dim=768), 1)
    vae = perturb(AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    ), 2)
    te = perturb(CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu")), 3)
    return unet, vae, te


def write_checkpoint(unet, vae, te, path):
    """The three as one LDM-layout single-file checkpoint in fp16 (the layout users have)."""
    cfg = unet.config
    has_attn_up = [t.startswith("CrossAttn") for t in cfg.up_block_types]
    ckpt = {}
    for k, v in unet.state_dict().items():
        ckpt["model.diffusion_model." + unet_key(k, cfg.layers_per_block, len(cfg.block_out_channels), has_attn_up)] = v.half()
    for k, v in vae.state_dict().items():
        nk = vae_key(k, 4)
        if ".mid.attn_1." in nk and nk.endswith("weight") and v.dim() == 2:
            v = v[:, :, None, None]
        ckpt["first_stage_model." + nk] = v.half()
    for k, v in te.state_dict().items():
        if k.endswith("position_ids"):
            continue
        k = k if k.startswith("text_model.") else "text_model." + k
        ckpt["cond_stage_model.transformer." + k] = v.half()
    save_file({k: v.contiguous() for k, v in ckpt.items()}, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(os.cpu_count())
    unet, vae, te = build_sd15()
    write_checkpoint(unet, vae, te, os.path.join(out, "sd15-random.safetensors"))
    del te

    g = torch.Generator("cpu").manual_seed(0)
    latents = torch.randn((2, 4, 64, 64), generator=g)
    context = torch.randn((2, 77, 768), generator=g)
    with torch.no_grad():
        t0 = time.perf_counter()
        noise_pred = unet(latents, torch.tensor(500.0), encoder_hidden_states=context).sample
        unet_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        image = vae.decode(latents[:1] / 0.18215).sample
        vae_s = time.perf_counter() - t0
    save_file({"latents": latents, "context": context, "noise_pred": noise_pred.contiguous(), "image": image.contiguous()}, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "unet_step_batch2_512_s": unet_s, "vae_decode_512_s": vae_s}, f)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads: UNet step (batch 2, 512 px) {unet_s:.2f} s, VAE decode (512 px) {vae_s:.2f} s")


if __name__ == "__main__":
    main()
