#!/usr/bin/env python3
"""Reference trajectories for Keepsake's schedulers (models/src/schedulers/).

Each diffusers scheduler is built from SD 1.5's scheduler_config.json the way users build them
(`Class.from_config(config, **options)`), then drives an img2img-shaped loop exactly as
StableDiffusionImg2ImgPipeline does (set_timesteps, get_timesteps/set_begin_index, add_noise with
the first noise draw, scale_model_input, step with the generator) around a synthetic noise
predictor that the Rust test computes the same way:
    eps = model_input * float32(0.3 * cos(t / 300)) + float32(0.05 * sin(i * 0.01 + t / 100))
Noise comes from torch.Generator("cpu") with the scalar Box-Muller kernel (ATEN_CPU_CAPABILITY=default).

Run: .venv-reference/bin/python tests/reference/make_scheduler_fixtures.py
"""
import inspect
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np
import torch
import diffusers
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "schedulers.json")

SD15_CONFIG = {
    "_class_name": "PNDMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

KINDS = {
    "euler-a": (EulerAncestralDiscreteScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "dpmpp-2m-karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
    "lcm": (LCMScheduler, {}),
}
# Added later (their cases come after the others, so the earlier seeds stay): PLMS is PNDM
# without the Runge-Kutta warm-up, UniPC diffusers' defaults.
LATER_KINDS = {
    "plms": (PNDMScheduler, {"skip_prk_steps": True}),
    "unipc": (UniPCMultistepScheduler, {}),
}
LATER_CONFIG_CASES = [
    ("plms", {"prediction_type": "v_prediction"}, 20, 0.6),
    ("plms", {"timestep_spacing": "trailing"}, 7, 1.0),
    ("plms", {"timestep_spacing": "linspace", "set_alpha_to_one": True}, 3, 1.0),
    ("unipc", {"timestep_spacing": "leading"}, 20, 0.6),
    ("unipc", {"prediction_type": "v_prediction", "timestep_spacing": "trailing", "rescale_betas_zero_snr": True}, 7, 1.0),
    ("unipc", {"timestep_spacing": "trailing"}, 25, 0.55),
]

N_ELEMENTS = 4 * 8 * 8


def model(x, t):
    t = float(t)
    c = 0.3 * np.cos(t / 300.0)
    b = (0.05 * np.sin(np.arange(N_ELEMENTS) * 0.01 + t / 100.0)).astype(np.float32)
    return x * c + torch.from_numpy(b).reshape(x.shape)


# Models whose scheduler_config.json sets more (or other) keys than SD 1.5's: each case is
# (sampler, the keys over SD 1.5's, steps, strength). from_config keeps what the file says and
# takes the class's defaults for the rest.
CONFIG_CASES = [
    ("euler", {"timestep_spacing": "leading"}, 20, 0.6),
    ("euler", {"timestep_spacing": "leading", "steps_offset": 0}, 7, 1.0),
    ("euler", {"timestep_spacing": "trailing"}, 7, 1.0),
    ("euler", {"prediction_type": "v_prediction"}, 20, 0.6),
    ("euler", {"prediction_type": "v_prediction", "timestep_spacing": "trailing", "rescale_betas_zero_snr": True}, 7, 1.0),
    ("euler", {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}, 20, 0.6),
    ("euler", {"trained_betas": [float(b) for b in np.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2], "beta_schedule": "linear"}, 20, 0.6),
    ("euler-a", {"prediction_type": "v_prediction", "timestep_spacing": "trailing", "rescale_betas_zero_snr": True}, 7, 1.0),
    ("euler-a", {"timestep_spacing": "leading"}, 25, 0.55),
    ("ddim", {"timestep_spacing": "trailing"}, 7, 1.0),
    ("ddim", {"timestep_spacing": "linspace"}, 25, 0.55),
    ("ddim", {"prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing", "set_alpha_to_one": True}, 7, 1.0),
    ("ddim", {"clip_sample": True, "clip_sample_range": 0.5}, 20, 0.6),
    ("ddim", {"beta_schedule": "squaredcos_cap_v2"}, 20, 0.6),
    ("dpmpp-2m-karras", {"prediction_type": "v_prediction"}, 20, 0.6),
    ("dpmpp-2m-karras", {"prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing"}, 7, 1.0),
    ("lcm", {"prediction_type": "v_prediction", "original_inference_steps": 25}, 4, 1.0),
    ("lcm", {"timestep_scaling": 5.0, "clip_sample": True}, 4, 0.6),
]


def run(kind, steps, strength, seed, extra=None):
    cls, opts = {**KINDS, **LATER_KINDS}[kind]
    config = dict(SD15_CONFIG, **(extra or {}))
    sched = cls.from_config(config, **opts)
    sched.set_timesteps(steps)
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    timesteps = sched.timesteps[t_start * sched.order :]
    if hasattr(sched, "set_begin_index"):
        sched.set_begin_index(t_start * sched.order)
    g = torch.Generator("cpu").manual_seed(seed)
    init = torch.from_numpy((np.cos(np.arange(N_ELEMENTS) * 0.05) * 0.8).astype(np.float32)).reshape(1, 4, 8, 8)
    noise = torch.randn((1, 4, 8, 8), generator=g, dtype=torch.float32)
    latents = sched.add_noise(init, noise, timesteps[:1])
    after_first = None
    for t in timesteps:
        inp = sched.scale_model_input(latents, t)
        eps = model(inp, t)
        extra_args = {"generator": g} if "generator" in inspect.signature(sched.step).parameters else {}
        latents = sched.step(eps, t, latents, **extra_args).prev_sample
        if after_first is None:
            after_first = latents
    bits = lambda x: [int(v) for v in x.flatten().contiguous().view(torch.int32).numpy().astype("uint32")]
    return {
        "kind": kind,
        "config": {k: v for k, v in config.items() if not k.startswith("_")} if extra else None,
        "init_noise_sigma": float(sched.init_noise_sigma),
        "steps": steps,
        "strength": strength,
        "seed": seed,
        "timesteps": [float(t) for t in sched.timesteps],
        "sigmas": [float(s) for s in getattr(sched, "sigmas", [])],
        "t_start": t_start,
        "after_first_step": bits(after_first),
        "final": bits(latents),
    }


def main():
    cases = []
    for kind in KINDS:
        for steps, strength in [(20, 0.6), (7, 1.0), (25, 0.55)] if kind != "lcm" else [(4, 1.0), (4, 0.6), (8, 0.5)]:
            cases.append(run(kind, steps, strength, seed=1000 + len(cases)))
    for kind, extra, steps, strength in CONFIG_CASES:
        cases.append(run(kind, steps, strength, seed=1000 + len(cases), extra=extra))
    for kind in LATER_KINDS:
        for steps, strength in [(20, 0.6), (7, 1.0), (25, 0.55), (1, 1.0), (2, 1.0)]:
            cases.append(run(kind, steps, strength, seed=1000 + len(cases)))
    for kind, extra, steps, strength in LATER_CONFIG_CASES:
        cases.append(run(kind, steps, strength, seed=1000 + len(cases), extra=extra))
    with open(OUT, "w") as f:
        json.dump({"generated_by": "tests/reference/make_scheduler_fixtures.py", "diffusers": diffusers.__version__, "torch": torch.__version__, "cases": cases}, f)
    print(f"{len(cases)} trajectories -> {OUT}")


if __name__ == "__main__":
    main()
