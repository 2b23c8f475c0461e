#!/usr/bin/env python3
"""A tiny SD-1.5-shaped CLIP text encoder and its outputs (models/src/components/clip.rs is checked against it).

transformers' CLIPTextModel with SD 1.5's structure (quick_gelu, causal attention, final layer
norm, full 49,408-token vocabulary, 77 positions) shrunk to hidden size 64 with one 64-wide head (CLIP's head size) and 3 layers, with fixed
seeds. Every weight is perturbed (norms too, so a swapped tensor shows) and rounded to fp16, and
the file is stored in fp16, the way SD checkpoints ship. Outputs for a few prompts are stored in
float32: the last hidden state (SD 1.5) and the penultimate layer through the final norm
(A1111's "clip skip 2").

Run: .venv-reference/bin/python tests/reference/make_text_encoder_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch
import transformers
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

import make_tokenizer_fixtures as tok_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "sd-tiny", "text_encoder")

PROMPTS = [
    "a photo of a cat",
    "portrait of an elderly woman, warm hand-painted animation style, soft light",
    "",
    "masterpiece, best quality, smiling grandmother in a flower garden, golden hour, bokeh, film grain, " * 3,
]


def main():
    torch.manual_seed(20261126)
    config = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=64,
        intermediate_size=37,
        num_hidden_layers=3,
        num_attention_heads=1,  # head size 64, as CLIP ViT-L (what a single-file loader assumes)
        max_position_embeddings=77,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=1,
        projection_dim=64,
    )
    model = CLIPTextModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn_like(p) * 0.05)
            p.copy_(p.half().float())
    os.makedirs(OUT, exist_ok=True)
    state = {k if k.startswith("text_model.") else "text_model." + k: v.half().contiguous() for k, v in model.state_dict().items()}
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    save_file(state, os.path.join(OUT, "model.safetensors"))
    config.save_pretrained(OUT)

    import tempfile
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as d:
        # The BPE file make_tokenizer_fixtures.py copied from open_clip.
        tok_fixtures.build_files(os.path.join(ROOT, "fixtures", "clip", "bpe_simple_vocab_16e6.txt.gz"), d)
        tokenizer = CLIPTokenizer.from_pretrained(d)
        cases = []
        for prompt in PROMPTS:
            ids = tokenizer(prompt, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
            with torch.no_grad():
                out = model(ids, output_hidden_states=True)
                last = out.last_hidden_state[0]
                final_norm = model.text_model.final_layer_norm if hasattr(model, "text_model") else model.final_layer_norm
                skip2 = final_norm(out.hidden_states[-2])[0]
            cases.append({"prompt": prompt, "ids": ids[0].tolist(), "last_hidden_state": last.flatten().tolist(), "clip_skip_2": skip2.flatten().tolist()})
    with open(os.path.join(ROOT, "fixtures", "text_encoder_outputs.json"), "w") as f:
        json.dump({"generated_by": "tests/reference/make_text_encoder_fixtures.py", "transformers": transformers.__version__, "hidden_size": 64, "cases": cases}, f)
    print("text encoder fixture ->", OUT)


if __name__ == "__main__":
    main()
