#!/usr/bin/env python3
"""Reference trajectories for Keepsake's k-diffusion samplers (models/src/schedulers/k_diffusion/).

A1111 runs its k-diffusion samplers (Euler, Euler a, LMS, Heun, DPM2, DPM2 a, DPM++ 2S a, DPM++ SDE,
DPM++ 2M, DPM++ 2M SDE) over a noise schedule (Uniform, Karras, Exponential, SGM Uniform) around
the model wrapped in k-diffusion's CompVisDenoiser (CompVisVDenoiser for v-prediction). This script
does the same with k-diffusion from PyPI, around a synthetic noise predictor that the Rust test
computes the same way (as make_scheduler_fixtures.py):
    eps = model_input * float32(0.3 * cos(t / 300)) + float32(0.05 * sin(i * 0.01 + t / 100))
txt2img starts from noise * sigmas[0]; img2img as A1111's sample_img2img: t_enc =
int(min(strength, 0.999) * steps), the schedule from sigmas[steps - t_enc - 1], init + noise * sigma.
DPM2 and DPM2 a drop the next-to-last sigma of a steps + 1 schedule, as A1111 does.

Noise: torch.Generator("cpu") with the scalar Box-Muller kernel (ATEN_CPU_CAPABILITY=default); the
ancestral samplers draw from the same generator after the first noise (A1111's randn_like). DPM++
SDE and DPM++ 2M SDE are run both ways: with that sequential noise, and ("brownian") with A1111's
noise sampler, k-diffusion's BrownianTreeNoiseSampler over torchsde's BrownianTree seeded with the
picture's seed (A1111's create_noise_sampler: the whole schedule's smallest non-zero and largest
sigma, the seed as a one-item list). Also recorded: numpy SeedSequence states and BrownianTree
increments, which the Brownian tree's port is checked against piece by piece.

Run: .venv-reference/bin/python tests/reference/make_k_sampler_fixtures.py
"""
import importlib.util
import json
import math
import os
import sys
import types

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np
import torch
from diffusers import EulerDiscreteScheduler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "k_samplers.json")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_scheduler_fixtures import SD15_CONFIG, N_ELEMENTS, model  # noqa: E402


def load_k_diffusion():
    """k_diffusion.sampling and .external without the package's __init__ (which imports its
    training tools: CLIP, wandb, clean-fid)."""
    spec = importlib.util.find_spec("k_diffusion")
    folder = os.path.dirname(spec.origin)
    package = types.ModuleType("k_diffusion")
    package.__path__ = [folder]
    sys.modules["k_diffusion"] = package
    modules = {}
    for name in ["utils", "sampling", "external"]:
        s = importlib.util.spec_from_file_location(f"k_diffusion.{name}", os.path.join(folder, f"{name}.py"))
        m = importlib.util.module_from_spec(s)
        sys.modules[f"k_diffusion.{name}"] = m
        s.loader.exec_module(m)
        setattr(package, name, m)
        modules[name] = m
    return modules["sampling"], modules["external"]


sampling, external = load_k_diffusion()

SAMPLERS = {
    "euler": (sampling.sample_euler, False),
    "euler-a": (sampling.sample_euler_ancestral, False),
    "lms": (sampling.sample_lms, False),
    "heun": (sampling.sample_heun, False),
    "dpm2": (sampling.sample_dpm_2, True),
    "dpm2-a": (sampling.sample_dpm_2_ancestral, True),
    "dpmpp-2s-a": (sampling.sample_dpmpp_2s_ancestral, False),
    "dpmpp-sde": (sampling.sample_dpmpp_sde, False),
    "dpmpp-2m": (sampling.sample_dpmpp_2m, False),
    "dpmpp-2m-sde": (sampling.sample_dpmpp_2m_sde, False),
}
DRAWS_NOISE = {"euler-a", "dpm2-a", "dpmpp-2s-a", "dpmpp-sde", "dpmpp-2m-sde"}


class Inner:
    """What CompVisDenoiser wraps: alphas_cumprod and apply_model; records every timestep."""

    def __init__(self, alphas_cumprod):
        self.alphas_cumprod = alphas_cumprod
        self.calls = []

    def apply_model(self, x, t, cond=None):
        self.calls.append(float(t.reshape(-1)[0]))
        return model(x, float(t.reshape(-1)[0]))


def schedule(name, n, denoiser):
    """A1111's schedulers (modules/sd_schedulers.py) on the wrapped model."""
    sigma_min, sigma_max = denoiser.sigmas[0].item(), denoiser.sigmas[-1].item()
    if name == "uniform":
        return denoiser.get_sigmas(n)
    if name == "karras":
        return sampling.get_sigmas_karras(n, sigma_min, sigma_max)
    if name == "exponential":
        return sampling.get_sigmas_exponential(n, sigma_min, sigma_max)
    if name == "sgm_uniform":
        start = denoiser.sigma_to_t(torch.tensor(sigma_max))
        end = denoiser.sigma_to_t(torch.tensor(sigma_min))
        sigs = [denoiser.t_to_sigma(ts) for ts in torch.linspace(start, end, n + 1)[:-1]]
        sigs += [0.0]
        return torch.FloatTensor(sigs)
    raise ValueError(name)


def run(kind, schedule_name, steps, strength, seed, prediction="epsilon", extra=None, noise_kind="sequential"):
    fn, discard = SAMPLERS[kind]
    config = dict(SD15_CONFIG, **(extra or {}))
    # alphas_cumprod as the model has them (float32, diffusers' schedule from the same config).
    ac = EulerDiscreteScheduler.from_config(config).alphas_cumprod.to(torch.float32)
    inner = Inner(ac)
    denoiser = external.CompVisVDenoiser(inner) if prediction == "v_prediction" else external.CompVisDenoiser(inner)
    n = steps + 1 if discard else steps
    sigmas = schedule(schedule_name, n, denoiser)
    if discard:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    g = torch.Generator("cpu").manual_seed(seed)
    shape = (1, 4, 8, 8)
    init = torch.from_numpy((np.cos(np.arange(N_ELEMENTS) * 0.05) * 0.8).astype(np.float32)).reshape(shape)
    noise = torch.randn(shape, generator=g, dtype=torch.float32)
    if strength is None:
        first = 0
        x = noise * sigmas[0]
    else:
        t_enc = int(min(strength, 0.999) * steps)
        first = steps - t_enc - 1
        x = init + noise * sigmas[first]
    # CompVisVDenoiser passes the conditioning on positionally (A1111 gives it one).
    kwargs = {"disable": True, "extra_args": {"cond": None} if prediction == "v_prediction" else {}}
    if noise_kind == "brownian":
        positive = sigmas[sigmas > 0]
        kwargs["noise_sampler"] = sampling.BrownianTreeNoiseSampler(x, positive.min(), sigmas.max(), seed=[seed])
    elif kind in DRAWS_NOISE:
        kwargs["noise_sampler"] = lambda sigma, sigma_next: torch.randn(shape, generator=g, dtype=torch.float32)
    out = fn(denoiser, x, sigmas[first:], **kwargs)
    bits = lambda v: [int(b) for b in v.flatten().contiguous().view(torch.int32).numpy().astype("uint32")]
    return {
        "kind": kind,
        "schedule": schedule_name,
        "prediction": prediction,
        "noise": noise_kind,
        "config": {k: v for k, v in config.items() if not k.startswith("_")} if extra else None,
        "steps": steps,
        "strength": strength,
        "seed": seed,
        "sigmas": [float(s) for s in sigmas],
        "first_step": first,
        "model_timesteps": inner.calls,
        "final": bits(out),
    }


def main():
    cases = []
    schedules = ["uniform", "karras", "exponential", "sgm_uniform"]
    for i, kind in enumerate(SAMPLERS):
        for j, name in enumerate(schedules):
            # txt2img and img2img alternate; step counts vary so odd and even ones both occur.
            steps = [7, 10, 12, 9][(i + j) % 4]
            strength = None if (i + j) % 2 == 0 else [0.6, 0.55, 0.75][(i + j) % 3]
            cases.append(run(kind, name, steps, strength, seed=2000 + len(cases)))
    for kind in ["euler", "dpmpp-2m", "heun", "dpmpp-2m-sde"]:
        cases.append(run(kind, "karras", 8, None, seed=2000 + len(cases), prediction="v_prediction", extra={"prediction_type": "v_prediction"}))
    cases.append(run("lms", "uniform", 20, 1.0, seed=2000 + len(cases)))
    cases.append(run("dpm2", "karras", 6, 1.0, seed=2000 + len(cases)))
    for kind in ["dpmpp-sde", "dpmpp-2m-sde"]:
        cases.append(run(kind, "karras", 8, None, seed=2000 + len(cases), noise_kind="brownian"))
        cases.append(run(kind, "exponential", 10, 0.6, seed=3_000_000_000 + len(cases), noise_kind="brownian"))
    import k_diffusion  # noqa: F401
    import torchsde
    from importlib.metadata import version

    seed_sequences = []
    for entropy, spawn_key in [(0, ()), (1234, ()), (1234, (5, 3)), (2**40 + 7, (2**33, 30)), (4242, (0, 0)), (99, (1, 1))]:
        state = np.random.SeedSequence(entropy=entropy, spawn_key=spawn_key, pool_size=24).generate_state(4)
        seed_sequences.append({"entropy": entropy, "spawn_key": list(spawn_key), "state": [int(v) for v in state]})
    tree = torchsde.BrownianTree(torch.tensor(0.0291675), torch.zeros(2, 3), torch.tensor(14.614647), entropy=77)
    queries = [(10.0, 14.614647), (0.5, 0.75), (0.0291675, 0.03), (3.25, 9.125), (0.0291675, 14.614647)]
    increments = [{"from": a, "to": b, "w": [float(v) for v in tree(torch.tensor(a), torch.tensor(b)).flatten()]} for a, b in queries]

    with open(OUT, "w") as f:
        json.dump({"generated_by": "tests/reference/make_k_sampler_fixtures.py", "k_diffusion": version("k-diffusion"), "torch": torch.__version__, "torchsde": version("torchsde"),
                   "cases": cases, "seed_sequences": seed_sequences,
                   "brownian_tree": {"t0": 0.0291675, "t1": 14.614647, "entropy": 77, "size": 6, "increments": increments}}, f)
    print(f"{len(cases)} trajectories -> {OUT}")


if __name__ == "__main__":
    main()
