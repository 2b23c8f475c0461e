#!/usr/bin/env python3
"""LoRA files for the tiny SD and what diffusers' img2img makes with them (models/src/edits/lora.rs is
checked against it).

- kohya.safetensors: kohya-ss layout (lora_unet_* / lora_te_*, lora_down/lora_up/alpha), rank 4,
  alpha 2, on the UNet's attention, feed-forward and projection layers, its resnet 3x3 convs
  (LoCon) and the text encoder's attention and MLP linears;
- peft.safetensors: diffusers/PEFT layout (unet.*.lora_A/lora_B) as save_lora_weights writes it,
  rank 8, on the UNet's attention linears.
Runs (Euler a, 9 steps, strength 0.6, cfg 7, the pipeline fixture's photo and prompt): kohya at
0.8, peft at 1.0, both (kohya 0.8 + peft 0.5), loaded with load_lora_weights/set_adapters.

Run after make_pipeline_fixtures.py: .venv-reference/bin/python tests/reference/make_lora_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch
import diffusers
from peft.tuners.lora import LoraLayer
from safetensors.torch import save_file

from make_pipeline_fixtures import SEED, reference_image, tiny_components, tiny_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "lora")
UNET_TARGETS = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "attn2.to_q", "attn2.to_k", "attn2.to_v",
                "attn2.to_out.0", "ff.net.0.proj", "ff.net.2", "proj_in", "proj_out", "conv1", "conv2")
TE_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")


def half_rounded(t):
    return t.half().float()


def kohya_lora(unet, text_encoder, rank=4, alpha=2.0):
    g = torch.Generator().manual_seed(21)
    sd = {}
    for prefix, model, targets in (("lora_unet", unet, UNET_TARGETS), ("lora_te", text_encoder, TE_TARGETS)):
        for name, module in model.named_modules():
            if not name.endswith(targets) or not isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                continue
            # kohya names text encoder layers from `text_model.` (transformers 5 leaves that level out).
            full = name if prefix == "lora_unet" or name.startswith("text_model.") else f"text_model.{name}"
            key = f"{prefix}_{full.replace('.', '_')}"
            if isinstance(module, torch.nn.Linear):
                down = torch.randn(rank, module.in_features, generator=g) * 0.2
                up = torch.randn(module.out_features, rank, generator=g) * 0.2
            else:
                kh, kw = module.kernel_size
                down = torch.randn(rank, module.in_channels, kh, kw, generator=g) * 0.2
                up = torch.randn(module.out_channels, rank, 1, 1, generator=g) * 0.2
            sd[f"{key}.lora_down.weight"] = half_rounded(down)
            sd[f"{key}.lora_up.weight"] = half_rounded(up)
            sd[f"{key}.alpha"] = torch.tensor(alpha)
    return sd


def peft_lora(unet, rank=8):
    g = torch.Generator().manual_seed(22)
    sd = {}
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(("to_q", "to_k", "to_v", "to_out.0")):
            sd[f"unet.{name}.lora_A.weight"] = half_rounded(torch.randn(rank, module.in_features, generator=g) * 0.1)
            sd[f"unet.{name}.lora_B.weight"] = half_rounded(torch.randn(module.out_features, rank, generator=g) * 0.1)
    return sd


def main():
    components = tiny_components()
    text_encoder, unet = components[0], components[1]
    os.makedirs(OUT, exist_ok=True)
    kohya = kohya_lora(unet, text_encoder)
    peft = peft_lora(unet)
    expected = {"kohya": sum(k.endswith(".alpha") for k in kohya), "peft": sum(k.endswith("lora_A.weight") for k in peft)}
    save_file({k: v.half() if v.ndim else v for k, v in kohya.items()}, os.path.join(OUT, "kohya.safetensors"))
    save_file({k: v.half() for k, v in peft.items()}, os.path.join(OUT, "peft.safetensors"))

    runs = []
    for loras in ([("kohya", 0.8)], [("peft", 1.0)], [("kohya", 0.8), ("peft", 0.5)]):
        pipe = tiny_pipeline(components)
        for name, _ in loras:
            pipe.load_lora_weights(OUT, weight_name=f"{name}.safetensors", adapter_name=name)
        pipe.set_adapters([n for n, _ in loras], adapter_weights=[w for _, w in loras])
        # Every layer of each file must be in effect (diffusers skips keys it cannot map).
        for name, _ in loras:
            layers = sum(1 for m in list(unet.modules()) + list(text_encoder.modules()) if isinstance(m, LoraLayer) and name in m.lora_A)
            assert layers == expected[name], f"{name}: diffusers applied {layers} layers of {expected[name]}"
        out = reference_image(pipe)
        pipe.unload_lora_weights()
        runs.append({"loras": [[n, w] for n, w in loras], "scheduler": "euler-a", "steps": 9, "strength": 0.6, "cfg": 7.0,
                     "seed": SEED, "image": out.flatten().tolist()})
        print(loras, float(out.mean()))
    with open(os.path.join(ROOT, "fixtures", "lora_outputs.json"), "w") as f:
        json.dump({"generated_by": "tests/reference/make_lora_fixtures.py", "diffusers": diffusers.__version__, "runs": runs}, f)


if __name__ == "__main__":
    main()
