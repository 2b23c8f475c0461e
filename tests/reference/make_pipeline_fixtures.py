#!/usr/bin/env python3
"""img2img through diffusers' StableDiffusionImg2ImgPipeline on the tiny SD-1.5-shaped model, for
every scheduler (models/src/pipeline/mod.rs is checked against it).

Completes tests/fixtures/sd-tiny/ into a diffusers folder (tokenizer/ built from the OpenAI CLIP
BPE file, scheduler/ with SD 1.5's config, model_index.json) around the text encoder, UNet and VAE
made by the other make_*_fixtures.py scripts, then runs img2img with CFG, a negative prompt, a
non-square size and a fixed seed (torch.Generator("cpu"), scalar kernel), and stores the images as
float32 in [0, 1].

Run after make_text_encoder_fixtures.py, make_unet_fixtures.py and make_vae_fixtures.py.
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np
import torch
import diffusers
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
    StableDiffusionImg2ImgPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextModel, CLIPTokenizer

import make_tokenizer_fixtures as tok_fixtures
from make_scheduler_fixtures import SD15_CONFIG

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "fixtures", "sd-tiny")

SCHEDULERS = {
    "euler-a": (EulerAncestralDiscreteScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "dpmpp-2m-karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
    "lcm": (LCMScheduler, {}),
    "plms": (PNDMScheduler, {"skip_prk_steps": True}),
    "unipc": (UniPCMultistepScheduler, {}),
}

# (scheduler, steps, strength, cfg): steps x strength not whole, so rounding is exercised.
RUNS = [
    ("euler-a", 9, 0.6, 7.0),
    ("euler", 9, 0.6, 7.0),
    ("ddim", 9, 0.6, 7.0),
    ("dpmpp-2m-karras", 9, 0.6, 7.0),
    ("lcm", 4, 0.8, 1.5),
]

# The samplers added with A1111's set, kept apart from RUNS (the booth-file tests compare every
# run): (sampler, schedule or None for a diffusers class, steps, strength, cfg).
SAMPLER_RUNS = [
    ("plms", None, 9, 0.6, 7.0),
    ("unipc", None, 9, 0.6, 7.0),
    ("heun", "uniform", 5, 0.6, 7.0),
    ("dpmpp-2s-a", "karras", 5, 0.7, 7.0),
    ("dpmpp-2m-sde", "exponential", 6, 0.6, 7.0),
    ("dpmpp-sde", "karras", 4, 1.0, 7.0),
    ("euler", "sgm_uniform", 6, 1.0, 7.0),
]

PROMPT = "portrait of an elderly woman, warm hand-painted animation style"
NEGATIVE = "blurry, lowres"
SEED = 4242


def input_image():
    """The 8-bit photo every run starts from: [0, 1], NCHW, exactly the output size (48 x 64)."""
    h, w = 48, 64
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    image = np.stack([(np.sin(xx * 0.15) + 1) / 2, (np.cos(yy * 0.2) + 1) / 2, ((xx + yy) % 17) / 16.0], axis=-1)
    image = (np.round(image * 255) / 255).astype(np.float32)  # what an 8-bit photo gives
    return torch.from_numpy(image).permute(2, 0, 1)[None]


def tiny_components():
    """The tiny SD's text encoder, UNet, KL VAE and tokenizer, in f32 (made by the other scripts)."""
    text_encoder = CLIPTextModel.from_pretrained(os.path.join(MODEL, "text_encoder"), torch_dtype=torch.float32)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(MODEL, "unet"), torch_dtype=torch.float32)
    vae = AutoencoderKL.from_pretrained(os.path.join(MODEL, "vae"), torch_dtype=torch.float32)
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(MODEL, "tokenizer"))
    return text_encoder, unet, vae, tokenizer


def tiny_pipeline(components, scheduler="euler-a", vae=None, cls=StableDiffusionImg2ImgPipeline, **extra):
    """An img2img pipeline (or `cls`) of the tiny SD with `scheduler` and optionally another VAE."""
    text_encoder, unet, kl, tokenizer = components
    scheduler_cls, opts = SCHEDULERS[scheduler]
    pipe = cls(
        vae=vae or kl, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=scheduler_cls.from_config(SD15_CONFIG, **opts), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False, **extra,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def reference_image(pipe, prompt=PROMPT, steps=9, strength=0.6, cfg=7.0, **extra):
    """One run from the fixture photo with the fixture seed, as float32 HWC in [0, 1]."""
    with torch.no_grad():
        return pipe(
            prompt=prompt, negative_prompt=NEGATIVE, image=input_image(), strength=strength, num_inference_steps=steps,
            guidance_scale=cfg, generator=torch.Generator("cpu").manual_seed(SEED), output_type="np", **extra,
        ).images[0]


def k_diffusion_image(components, kind, schedule_name, steps, strength, cfg):
    """img2img as A1111 runs a k-diffusion sampler (make_k_sampler_fixtures.py), on the tiny model:
    the photo encoded and noised with the fixture seed's generator as diffusers' img2img does
    (posterior sample, then noise), the UNet behind CompVisDenoiser with classifier-free guidance
    on its noise prediction, the VAE decode; float32 HWC in [0, 1]."""
    from make_k_sampler_fixtures import DRAWS_NOISE, SAMPLERS, external, sampling, schedule

    text_encoder, unet, vae, tokenizer = components
    pipe = tiny_pipeline(components, "euler")
    g = torch.Generator("cpu").manual_seed(SEED)

    class Inner:
        def __init__(self):
            self.alphas_cumprod = pipe.scheduler.alphas_cumprod.to(torch.float32)

        def apply_model(self, x, t, cond=None):
            eps = unet(torch.cat([x, x]), t.reshape(()), encoder_hidden_states=context).sample
            uncond, text = eps.chunk(2)
            return uncond + (text - uncond) * cfg

    with torch.no_grad():
        positive, negative = pipe.encode_prompt(PROMPT, "cpu", 1, True, NEGATIVE)
        context = torch.cat([negative, positive])
        scaling = vae.config.scaling_factor
        init = vae.encode(input_image() * 2 - 1).latent_dist.sample(g) * scaling
        noise = torch.randn(init.shape, generator=g, dtype=torch.float32)
        denoiser = external.CompVisDenoiser(Inner())
        fn, discard = SAMPLERS[kind]
        sigmas = schedule(schedule_name, steps + 1 if discard else steps, denoiser)
        if discard:
            sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
        t_enc = int(min(strength, 0.999) * steps)
        first = steps - t_enc - 1
        x = init + noise * sigmas[first]
        kwargs = {"disable": True}
        if kind in ("dpmpp-sde", "dpmpp-2m-sde"):
            # A1111's create_noise_sampler: a Brownian tree of the seed over the whole schedule.
            kwargs["noise_sampler"] = sampling.BrownianTreeNoiseSampler(x, sigmas[sigmas > 0].min(), sigmas.max(), seed=[SEED])
        elif kind in DRAWS_NOISE:
            kwargs["noise_sampler"] = lambda sigma, sigma_next: torch.randn(init.shape, generator=g, dtype=torch.float32)
        x = fn(denoiser, x, sigmas[first:], **kwargs)
        image = vae.decode(x / scaling).sample
    return (image / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 0).numpy()


def main():
    tok_dir = os.path.join(MODEL, "tokenizer")
    os.makedirs(tok_dir, exist_ok=True)
    tok_fixtures.build_files(os.path.join(ROOT, "fixtures", "clip", "bpe_simple_vocab_16e6.txt.gz"), tok_dir)
    os.makedirs(os.path.join(MODEL, "scheduler"), exist_ok=True)
    with open(os.path.join(MODEL, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump({**SD15_CONFIG, "_diffusers_version": diffusers.__version__}, f, indent=2)
    with open(os.path.join(MODEL, "model_index.json"), "w") as f:
        json.dump({
            "_class_name": "StableDiffusionPipeline",
            "_diffusers_version": diffusers.__version__,
            "feature_extractor": [None, None],
            "requires_safety_checker": False,
            "safety_checker": [None, None],
            "scheduler": ["diffusers", "PNDMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        }, f, indent=2)

    components = tiny_components()

    init = input_image()
    h, w = init.shape[2], init.shape[3]

    runs = []
    for kind, steps, strength, cfg in RUNS:
        out = reference_image(tiny_pipeline(components, kind), steps=steps, strength=strength, cfg=cfg)
        runs.append({"scheduler": kind, "steps": steps, "strength": strength, "cfg": cfg, "seed": SEED, "image": out.flatten().tolist(), "shape": list(out.shape)})
        print(kind, out.shape, float(out.mean()))
    sampler_runs = []
    for kind, schedule_name, steps, strength, cfg in SAMPLER_RUNS:
        if schedule_name is None:
            out = reference_image(tiny_pipeline(components, kind), steps=steps, strength=strength, cfg=cfg)
        else:
            out = k_diffusion_image(components, kind, schedule_name, steps, strength, cfg)
        sampler_runs.append({
            "scheduler": kind, "schedule": schedule_name or "automatic", "steps": steps, "strength": strength, "cfg": cfg,
            "seed": SEED, "image": out.flatten().tolist(), "shape": list(out.shape),
        })
        print(kind, schedule_name, out.shape, float(out.mean()))
    with open(os.path.join(ROOT, "fixtures", "pipeline_outputs.json"), "w") as f:
        json.dump({
            "generated_by": "tests/reference/make_pipeline_fixtures.py",
            "diffusers": diffusers.__version__,
            "torch": torch.__version__,
            "prompt": PROMPT,
            "negative_prompt": NEGATIVE,
            "input_shape": [1, 3, h, w],
            "input_u8": [int(round(v * 255)) for v in init[0].permute(1, 2, 0).flatten().tolist()],
            "runs": runs,
            "sampler_runs": sampler_runs,
        }, f)


if __name__ == "__main__":
    main()
