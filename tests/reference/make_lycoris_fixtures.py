#!/usr/bin/env python3
"""LyCORIS LoHa and LoKr files for the tiny SD and what img2img makes with them merged
(models/src/edits/lora.rs is checked against it).

The layers are made by PEFT's LoHa and LoKr (the same products A1111's LyCORIS support computes:
LoHa (w1a w1b) * (w2a w2b) * alpha / rank (rank 4), LoKr kron(w1, w2a w2b) * alpha / rank (rank 2)), filled with
seeded random f16-rounded values, merged by PEFT into the UNet, and the img2img run of the pipeline
fixture made with that UNet. The same values are written in the kohya / LyCORIS file layout A1111
reads (lora_unet_<layer>.hada_w1_a ..., .lokr_w1 / .lokr_w2_a / .lokr_w2_b, .alpha):
tests/fixtures/lora/loha.safetensors and lokr.safetensors.

Run after make_pipeline_fixtures.py: .venv-reference/bin/python tests/reference/make_lycoris_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch
import diffusers
from peft import inject_adapter_in_model
from peft.tuners.loha import LoHaConfig, LoHaLayer
from peft.tuners.lokr import LoKrConfig, LoKrLayer
from safetensors.torch import save_file

from make_pipeline_fixtures import SEED, reference_image, tiny_components, tiny_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "lora")
TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2"]
ALPHA = 2.0
# LoKr's second factor is low-rank only when the rank is under half its size (8 here): rank 2. With
# both factors full, LyCORIS and A1111 scale by 1 where PEFT keeps alpha / rank.
RANKS = {"loha": 4, "lokr": 2}


def lycoris(kind, seed):
    components = tiny_components()
    unet = components[1]
    config, layer_type, names = {
        "loha": (LoHaConfig, LoHaLayer, ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b")),
        "lokr": (LoKrConfig, LoKrLayer, ("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b")),
    }[kind]
    inject_adapter_in_model(config(r=RANKS[kind], alpha=ALPHA, target_modules=TARGETS), unet, adapter_name=kind)
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, module in unet.named_modules():
        if not isinstance(module, layer_type):
            continue
        key = "lora_unet_" + name.replace(".", "_")
        with torch.no_grad():
            for p in names:
                params = getattr(module, p)
                if kind not in params:
                    continue
                t = (torch.randn(params[kind].shape, generator=g) * 0.45).half().float()
                params[kind].copy_(t)
                tensors[f"{key}.{p}"] = t.half()
        tensors[f"{key}.alpha"] = torch.tensor(ALPHA)
        module.merge()
    save_file(tensors, os.path.join(OUT, f"{kind}.safetensors"))
    out = reference_image(tiny_pipeline(components))
    print(kind, sum(k.endswith(".alpha") for k in tensors), "layers", float(out.mean()))
    return {"file": f"{kind}.safetensors", "weight": 1.0, "scheduler": "euler-a", "steps": 9, "strength": 0.6, "cfg": 7.0,
            "seed": SEED, "image": out.flatten().tolist()}


def main():
    runs = [lycoris("loha", 41), lycoris("lokr", 42)]
    with open(os.path.join(ROOT, "fixtures", "lycoris_outputs.json"), "w") as f:
        json.dump({"generated_by": "tests/reference/make_lycoris_fixtures.py", "diffusers": diffusers.__version__, "runs": runs}, f)


if __name__ == "__main__":
    main()
