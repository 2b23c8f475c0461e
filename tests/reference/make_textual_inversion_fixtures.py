#!/usr/bin/env python3
"""A textual-inversion embedding for the tiny SD and what diffusers' img2img makes with it
(models/src/edits/textual_inversion.rs is checked against it).

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
from safetensors.torch import save_file

from make_pipeline_fixtures import SEED, reference_image, tiny_components, tiny_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "embeddings")
PROMPT = "portrait of an elderly woman in keepsake-style, warm light"


def main():
    components = tiny_components()
    text_encoder = components[0]
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(31)
    path = os.path.join(OUT, "keepsake-style.safetensors")
    vectors = (torch.randn(2, text_encoder.config.hidden_size, generator=g)).half()
    save_file({"emb_params": vectors}, path)
    # The same embedding as A1111's own training writes it (a pickled .pt), in a folder of its own.
    os.makedirs(os.path.join(OUT, "a1111-pt"), exist_ok=True)
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": vectors.clone()}, "name": "keepsake-style", "step": 1000,
                "sd_checkpoint": None, "sd_checkpoint_name": None}, os.path.join(OUT, "a1111-pt", "keepsake-style.pt"))

    pipe = tiny_pipeline(components)
    pipe.load_textual_inversion(path, token="keepsake-style")
    ids = pipe.tokenizer(pipe.maybe_convert_prompt(PROMPT, pipe.tokenizer)).input_ids
    out = reference_image(pipe, prompt=PROMPT)
    with open(os.path.join(ROOT, "fixtures", "textual_inversion_outputs.json"), "w") as f:
        json.dump({
            "generated_by": "tests/reference/make_textual_inversion_fixtures.py", "diffusers": diffusers.__version__,
            "prompt": PROMPT, "token_ids": ids, "scheduler": "euler-a", "steps": 9, "strength": 0.6, "cfg": 7.0, "seed": SEED,
            "image": out.flatten().tolist(),
        }, f)
    print(ids, float(out.mean()))


if __name__ == "__main__":
    main()
