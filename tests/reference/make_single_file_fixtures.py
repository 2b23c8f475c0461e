#!/usr/bin/env python3
"""The tiny model as one original-LDM-layout checkpoint (the .safetensors layout A1111 and model
sites use), stored in fp16 like the folder (so both layouts are the same model), with its LDM
.yaml beside it.

The keys are written with this script's own diffusers->LDM table, and then checked by loading the
file with diffusers' single-file loader (`from_single_file`, diffusers' own converter) and
comparing every tensor with the diffusers folder: so the file is what diffusers means by the LDM
layout. models/src/formats/ldm.rs reads it back with its table and must give the same images.

Run after the other make_*_fixtures.py scripts.
"""
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch
from diffusers import AutoencoderKL, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDER = os.path.join(ROOT, "fixtures", "sd-tiny")
OUT = os.path.join(ROOT, "fixtures", "sd-tiny-single")

YAML = """model:
  target: ldm.models.diffusion.ddpm.LatentDiffusion
  params:
    linear_start: 0.00085
    linear_end: 0.0120
    timesteps: 1000
    image_size: 64
    channels: 4
    conditioning_key: crossattn
    scale_factor: 0.18215
    unet_config:
      target: ldm.modules.diffusionmodules.openaimodel.UNetModel
      params:
        image_size: 32
        in_channels: 4
        out_channels: 4
        model_channels: 32
        attention_resolutions: [ 1 ]
        num_res_blocks: 2
        channel_mult: [ 1, 2 ]
        num_heads: 8
        use_spatial_transformer: True
        transformer_depth: 1
        context_dim: 64
        legacy: False
    first_stage_config:
      target: ldm.models.autoencoder.AutoencoderKL
      params:
        embed_dim: 4
        ddconfig:
          double_z: true
          z_channels: 4
          resolution: 256
          in_channels: 3
          out_ch: 3
          ch: 32
          ch_mult: [ 1, 2 ]
          num_res_blocks: 2
          attn_resolutions: []
          dropout: 0.0
    cond_stage_config:
      target: ldm.modules.encoders.modules.FrozenCLIPEmbedder
"""

RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1", "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
VAE_RESNET = {"norm1": "norm1", "conv1": "conv1", "norm2": "norm2", "conv2": "conv2", "conv_shortcut": "nin_shortcut"}
VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def unet_key(k, lpb, levels, has_attn_up):
    parts = k.split(".")
    if k.startswith("time_embedding.linear_1"):
        return k.replace("time_embedding.linear_1", "time_embed.0")
    if k.startswith("time_embedding.linear_2"):
        return k.replace("time_embedding.linear_2", "time_embed.2")
    if k.startswith("conv_in"):
        return k.replace("conv_in", "input_blocks.0.0")
    if k.startswith("conv_norm_out"):
        return k.replace("conv_norm_out", "out.0")
    if k.startswith("conv_out"):
        return k.replace("conv_out", "out.2")
    if parts[0] == "down_blocks":
        i, kind, j, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            sub, param = rest.rsplit(".", 1)
            return f"input_blocks.{1 + i * (lpb + 1) + j}.0.{RESNET[sub]}.{param}"
        if kind == "attentions":
            return f"input_blocks.{1 + i * (lpb + 1) + j}.1.{rest}"
        if kind == "downsamplers":
            return f"input_blocks.{1 + i * (lpb + 1) + lpb}.0.op.{rest.split('.', 1)[1]}"
    if parts[0] == "mid_block":
        kind, j, rest = parts[1], int(parts[2]), ".".join(parts[3:])
        if kind == "resnets":
            sub, param = rest.rsplit(".", 1)
            return f"middle_block.{2 * j}.{RESNET[sub]}.{param}"
        return f"middle_block.1.{rest}"
    if parts[0] == "up_blocks":
        i, kind, j, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            sub, param = rest.rsplit(".", 1)
            return f"output_blocks.{i * (lpb + 1) + j}.0.{RESNET[sub]}.{param}"
        if kind == "attentions":
            return f"output_blocks.{i * (lpb + 1) + j}.1.{rest}"
        if kind == "upsamplers":
            return f"output_blocks.{i * (lpb + 1) + lpb}.{2 if has_attn_up[i] else 1}.conv.{rest.split('.', 1)[1]}"
    raise KeyError(k)


def vae_key(k, levels):
    parts = k.split(".")
    side = parts[0]
    if side in ("quant_conv", "post_quant_conv"):
        return k
    if parts[1] in ("conv_in", "conv_out"):
        return k
    if parts[1] == "conv_norm_out":
        return k.replace("conv_norm_out", "norm_out")
    if parts[1] == "mid_block":
        kind, j, rest = parts[2], int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            sub, param = rest.rsplit(".", 1)
            return f"{side}.mid.block_{j + 1}.{VAE_RESNET[sub]}.{param}"
        sub, param = rest.rsplit(".", 1)
        return f"{side}.mid.attn_1.{VAE_ATTN[sub]}.{param}"
    if parts[1] in ("down_blocks", "up_blocks"):
        i, kind, j = int(parts[2]), parts[3], parts[4]
        level = i if side == "encoder" else levels - 1 - i
        name = "down" if side == "encoder" else "up"
        if kind == "resnets":
            sub, param = ".".join(parts[5:]).rsplit(".", 1)
            return f"{side}.{name}.{level}.block.{j}.{VAE_RESNET[sub]}.{param}"
        sampler = "downsample" if side == "encoder" else "upsample"
        return f"{side}.{name}.{level}.{sampler}.conv.{parts[-1]}"
    raise KeyError(k)


def main():
    unet = load_file(os.path.join(FOLDER, "unet", "diffusion_pytorch_model.safetensors"))
    vae = load_file(os.path.join(FOLDER, "vae", "diffusion_pytorch_model.safetensors"))
    te = load_file(os.path.join(FOLDER, "text_encoder", "model.safetensors"))
    unet_cfg = UNet2DConditionModel.load_config(os.path.join(FOLDER, "unet"))
    lpb = unet_cfg["layers_per_block"]
    levels = len(unet_cfg["block_out_channels"])
    has_attn_up = [t.startswith("CrossAttn") for t in unet_cfg["up_block_types"]]
    vae_levels = len(AutoencoderKL.load_config(os.path.join(FOLDER, "vae"))["block_out_channels"])

    ckpt = {}
    for k, v in unet.items():
        ckpt["model.diffusion_model." + unet_key(k, lpb, levels, has_attn_up)] = v
    for k, v in vae.items():
        nk = vae_key(k, vae_levels)
        if ".mid.attn_1." in nk and nk.endswith("weight") and v.dim() == 2:
            v = v[:, :, None, None]  # the LDM VAE attention projections are 1x1 convolutions
        ckpt["first_stage_model." + nk] = v
    for k, v in te.items():
        ckpt["cond_stage_model.transformer." + k] = v
    ckpt = {k: v.to(torch.float16).contiguous() for k, v in ckpt.items()}
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "sd-tiny.safetensors")
    save_file(ckpt, path)
    with open(os.path.join(OUT, "sd-tiny.yaml"), "w") as f:
        f.write(YAML)

    # diffusers' own converter must read it back to the same weights.
    pipe = StableDiffusionImg2ImgPipeline.from_single_file(path, config=FOLDER, original_config=os.path.join(OUT, "sd-tiny.yaml"), torch_dtype=torch.float32, safety_checker=None)
    for name, ours in [("unet", unet), ("vae", vae), ("text_encoder", te)]:
        theirs = getattr(pipe, name).state_dict()
        for k, v in ours.items():
            key = k if k in theirs else k.removeprefix("text_model.")
            assert key in theirs, f"{name}: {k} not in diffusers' conversion"
            assert torch.equal(theirs[key].float(), v.float()), f"{name}: {k} differs"
    print("single-file fixture verified by diffusers' from_single_file ->", path)


if __name__ == "__main__":
    main()
