#!/usr/bin/env python3
"""A textual-inversion embedding for the tiny SD and what diffusers' img2img makes with it
(models/src/textual_inversion.rs is checked against it).

tests/fixtures/embeddings/keepsake-style.safetensors: A1111's layout (`emb_params`, 2 vectors of the
tiny text encoder's width 64), loaded with load_textual_inversion(token="keepsake-style"), used in
the prompt (Euler a, 9 steps, strength 0.6, cfg 7, the pipeline fixture's photo).

Run after make_pipeline_fixtures.py: .venv-reference/bin/python tests/reference/make_textual_inversion_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch
import diffusers
from diffusers import AutoencoderKL, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

from make_pipeline_fixtures import MODEL, NEGATIVE, SCHEDULERS, SEED, input_image
from make_scheduler_fixtures import SD15_CONFIG

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "embeddings")
PROMPT = "portrait of an elderly woman in keepsake-style, warm light"


def main():
    text_encoder = CLIPTextModel.from_pretrained(os.path.join(MODEL, "text_encoder"), torch_dtype=torch.float32)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(MODEL, "unet"), torch_dtype=torch.float32)
    vae = AutoencoderKL.from_pretrained(os.path.join(MODEL, "vae"), torch_dtype=torch.float32)
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(MODEL, "tokenizer"))
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(31)
    path = os.path.join(OUT, "keepsake-style.safetensors")
    save_file({"emb_params": (torch.randn(2, text_encoder.config.hidden_size, generator=g)).half()}, path)

    cls, opts = SCHEDULERS["euler-a"]
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=cls.from_config(SD15_CONFIG, **opts), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.load_textual_inversion(path, token="keepsake-style")
    ids = pipe.tokenizer(pipe.maybe_convert_prompt(PROMPT, pipe.tokenizer)).input_ids
    with torch.no_grad():
        out = pipe(
            prompt=PROMPT, negative_prompt=NEGATIVE, image=input_image(), strength=0.6, num_inference_steps=9,
            guidance_scale=7.0, generator=torch.Generator("cpu").manual_seed(SEED), output_type="np",
        ).images[0]
    with open(os.path.join(ROOT, "fixtures", "textual_inversion_outputs.json"), "w") as f:
        json.dump({
            "generated_by": "tests/reference/make_textual_inversion_fixtures.py", "diffusers": diffusers.__version__,
            "prompt": PROMPT, "token_ids": ids, "scheduler": "euler-a", "steps": 9, "strength": 0.6, "cfg": 7.0, "seed": SEED,
            "image": out.flatten().tolist(),
        }, f)
    print(ids, float(out.mean()))


if __name__ == "__main__":
    main()
