#!/usr/bin/env python3
"""Pictures of the tiny SD whose folder brings its own scheduler config, as a diffusers user makes
them: the pipeline loaded with `from_pretrained` (the folder's PNDMScheduler config read as the
file says it), then the sampler swapped with `Sampler.from_config(pipe.scheduler.config)`, which
keeps the keys the file set and gives every other key the sampler's own default.

Two folders: a v-prediction model with a zero-terminal-SNR schedule and trailing timesteps (how
such fine-tunes ship), and one whose config carries "timestep_spacing": "leading" (what
save_pretrained writes for a PNDM config). models/tests/pipeline.rs loads the same folders
(the tiny SD's components and the config recorded here) and compares.

Run after make_pipeline_fixtures.py: .venv-reference/bin/python tests/reference/make_model_scheduler_fixtures.py
"""
import json
import os
import shutil
import tempfile

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch
import diffusers
from diffusers import StableDiffusionImg2ImgPipeline

from make_pipeline_fixtures import MODEL, SCHEDULERS, SEED, reference_image
from make_scheduler_fixtures import SD15_CONFIG

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "model_scheduler_outputs.json")

MODELS = {
    "v-prediction, zero SNR, trailing": {"prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing"},
    "leading": {"timestep_spacing": "leading"},
}
# (model, sampler, steps, strength, cfg)
RUNS = [
    ("v-prediction, zero SNR, trailing", "euler", 9, 0.6, 7.0),
    ("v-prediction, zero SNR, trailing", "euler-a", 9, 1.0, 7.0),
    ("v-prediction, zero SNR, trailing", "ddim", 9, 0.6, 7.0),
    ("v-prediction, zero SNR, trailing", "dpmpp-2m-karras", 9, 0.6, 7.0),
    ("leading", "euler", 9, 0.6, 7.0),
    ("leading", "euler-a", 9, 0.6, 7.0),
]


def folder(config, into):
    """The tiny SD's folder with `config` as its scheduler config (components linked)."""
    for name in os.listdir(MODEL):
        if name != "scheduler":
            os.symlink(os.path.join(MODEL, name), os.path.join(into, name))
    os.makedirs(os.path.join(into, "scheduler"))
    with open(os.path.join(into, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(config, f, indent=2)


def main():
    runs = []
    for name, sampler, steps, strength, cfg in RUNS:
        config = {**SD15_CONFIG, **MODELS[name], "_diffusers_version": diffusers.__version__}
        with tempfile.TemporaryDirectory() as tmp:
            folder(config, tmp)
            pipe = StableDiffusionImg2ImgPipeline.from_pretrained(tmp, torch_dtype=torch.float32, safety_checker=None, requires_safety_checker=False)
            cls, opts = SCHEDULERS[sampler]
            pipe.scheduler = cls.from_config(pipe.scheduler.config, **opts)
            pipe.set_progress_bar_config(disable=True)
            out = reference_image(pipe, steps=steps, strength=strength, cfg=cfg)
        print(name, sampler, float(out.mean()))
        runs.append({
            "model": name, "config": config, "scheduler": sampler, "steps": steps, "strength": strength, "cfg": cfg, "seed": SEED,
            "image": [round(v, 6) for v in out.flatten().tolist()],
        })
    with open(OUT, "w") as f:
        json.dump({"generated_by": "tests/reference/make_model_scheduler_fixtures.py", "diffusers": diffusers.__version__,
                   "torch": torch.__version__, "runs": runs}, f)


if __name__ == "__main__":
    main()
