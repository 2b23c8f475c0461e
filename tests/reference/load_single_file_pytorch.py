"""PyTorch's side of "Loading a single-file checkpoint" in docs/BENCHMARKS.md: diffusers'
from_single_file loads the same LDM-layout checkpoint into f32 on the CPU, offline.

    HF_HUB_OFFLINE=1 scripts/peak-memory.sh .venv-reference/bin/python \
        tests/reference/load_single_file_pytorch.py /tmp/keepsake-bench/sd15-random.safetensors /tmp/keepsake-bench/diffusers

The hub is out of reach, so the pipeline's configs come from the diffusers folder bench_pytorch.py
writes beside the checkpoint (unet, vae, text_encoder) and from the tiny fixture (model index,
scheduler, tokenizer: their sizes do not depend on the model's).
"""

import json
import pathlib
import shutil
import sys
import tempfile

import torch
from diffusers import StableDiffusionImg2ImgPipeline

checkpoint, folder = sys.argv[1], pathlib.Path(sys.argv[2])
tiny = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "sd-tiny"
with tempfile.TemporaryDirectory() as configs:
    configs = pathlib.Path(configs)
    shutil.copy(tiny / "model_index.json", configs)
    for part in ["scheduler", "tokenizer"]:
        shutil.copytree(tiny / part, configs / part)
    for part in ["unet", "vae", "text_encoder"]:
        (configs / part).mkdir()
        config = json.loads((folder / part / "config.json").read_text())
        if part == "unet":
            config["sample_size"] = config.get("sample_size") or 64  # SD 1.5's latent size
        (configs / part / "config.json").write_text(json.dumps(config))
    pipe = StableDiffusionImg2ImgPipeline.from_single_file(
        checkpoint, config=str(configs), torch_dtype=torch.float32, local_files_only=True
    )
print("loaded: UNet", sum(p.numel() for p in pipe.unet.parameters()), "parameters")
