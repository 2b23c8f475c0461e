#!/usr/bin/env python3
"""The PyTorch/diffusers side of `keepsake bench` (docs/BENCHMARKS.md), on the same machine and in
the same run.

1. Makes OUT/sd15-random.safetensors (SD 1.5's architecture, random fp16-rounded weights, LDM
   single-file layout, as compare_full_size.py), the same model as diffusers folders in
   OUT/diffusers/, a random TAESD (diffusers AutoencoderTiny, default config) in OUT/taesd/, and
   the 512x512 photo both sides start from, OUT/photo.png.
2. Runs each scenario in its own Python process (so each peak RSS is its own), with the inputs
   `keepsake bench` uses (torch.Generator seeds, prompt, photo), writes OUT/pytorch.json and the
   img2img pictures OUT/pytorch-*.png.
3. Runs `keepsake bench --dir OUT`, which prints our time / PyTorch's per line.

Run: .venv-reference/bin/python tests/reference/bench_pytorch.py OUT [--skip-keepsake] [--only NAME ...]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOKENIZER = os.path.join(ROOT, "tests", "fixtures", "sd-tiny", "tokenizer")
PROMPT = "portrait of an elderly woman, warm hand-painted animation style"
NEGATIVE = "blurry, lowres"
# Keepsake's names; the int8 ones have no PyTorch counterpart here.
SCENARIOS = ["text-encode", "unet-step", "vae-decode", "taesd-decode", "img2img-lcm", "img2img-euler-a"]


def peak_rss_mb():
    """This process's peak RSS (VmHWM). Not ru_maxrss: across fork + exec that keeps the parent's."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def prepare(out):
    from diffusers import AutoencoderTiny
    from compare_full_size import build_sd15, perturb, write_checkpoint

    if not os.path.exists(os.path.join(out, "diffusers", "unet")):
        unet, vae, te = build_sd15()
        write_checkpoint(unet, vae, te, os.path.join(out, "sd15-random.safetensors"))
        for name, model in (("unet", unet), ("vae", vae), ("text_encoder", te)):
            model.half().save_pretrained(os.path.join(out, "diffusers", name))
    if not os.path.exists(os.path.join(out, "taesd")):
        torch.manual_seed(0)
        perturb(AutoencoderTiny(), 4).save_pretrained(os.path.join(out, "taesd"))
    h = w = 512
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    photo = np.stack([(np.sin(xx * 0.02) + 1) / 2, (np.cos(yy * 0.03) + 1) / 2, ((xx + yy) % 97) / 96.0], axis=-1)
    Image.fromarray(np.round(photo * 255).astype(np.uint8)).save(os.path.join(out, "photo.png"))


def load(out, what):
    from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
    from transformers import CLIPTextModel

    d = os.path.join(out, "diffusers")
    f32 = torch.float32
    return {
        "unet": lambda: UNet2DConditionModel.from_pretrained(os.path.join(d, "unet"), torch_dtype=f32).eval(),
        "vae": lambda: AutoencoderKL.from_pretrained(os.path.join(d, "vae"), torch_dtype=f32).eval(),
        "text_encoder": lambda: CLIPTextModel.from_pretrained(os.path.join(d, "text_encoder"), torch_dtype=f32).eval(),
        "taesd": lambda: AutoencoderTiny.from_pretrained(os.path.join(out, "taesd"), torch_dtype=f32).eval(),
    }[what]()


def img2img(out, name, vae, scheduler, steps, cfg):
    from diffusers import StableDiffusionImg2ImgPipeline
    from transformers import CLIPTokenizer

    unet = load(out, "unet")
    unet.register_to_config(sample_size=64)  # SD 1.5's; the random model's config leaves it unset
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=load(out, "text_encoder"), tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER), unet=unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    photo = Image.open(os.path.join(out, "photo.png")).convert("RGB")
    t0 = time.perf_counter()
    image = pipe(prompt=PROMPT, negative_prompt=NEGATIVE, image=photo, strength=0.6, num_inference_steps=steps, guidance_scale=cfg,
                 generator=torch.Generator("cpu").manual_seed(4242)).images[0]
    seconds = time.perf_counter() - t0
    image.save(os.path.join(out, f"pytorch-{name}.png"))
    return seconds


def run_scenario(out, name):
    from diffusers import EulerAncestralDiscreteScheduler, LCMScheduler

    # SD 1.5's scheduler config (as make_scheduler_fixtures.py wrote it).
    sd15 = os.path.join(ROOT, "tests", "fixtures", "sd-tiny", "scheduler")

    torch.set_num_threads(os.cpu_count())
    with torch.no_grad():
        if name == "text-encode":
            from transformers import CLIPTokenizer
            tok = CLIPTokenizer.from_pretrained(TOKENIZER)
            te = load(out, "text_encoder")
            ids = tok([NEGATIVE, PROMPT], padding="max_length", max_length=77, return_tensors="pt").input_ids
            t0 = time.perf_counter()
            te(ids)
            return time.perf_counter() - t0
        if name == "unet-step":
            unet = load(out, "unet")
            g = torch.Generator("cpu").manual_seed(0)
            latents = torch.randn((2, 4, 64, 64), generator=g)
            context = torch.randn((2, 77, 768), generator=g)
            t0 = time.perf_counter()
            unet(latents, torch.tensor(500.0), encoder_hidden_states=context)
            return time.perf_counter() - t0
        if name in ("vae-decode", "taesd-decode"):
            vae = load(out, "vae" if name == "vae-decode" else "taesd")
            latents = torch.randn((1, 4, 64, 64), generator=torch.Generator("cpu").manual_seed(0))
            t0 = time.perf_counter()
            vae.decode(latents)
            return time.perf_counter() - t0
        if name == "img2img-lcm":
            return img2img(out, name, load(out, "taesd"), LCMScheduler.from_pretrained(sd15), 7, 1.5)
        if name == "img2img-euler-a":
            return img2img(out, name, load(out, "vae"), EulerAncestralDiscreteScheduler.from_pretrained(sd15), 20, 7.0)
    raise SystemExit(f"unknown scenario {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--scenario")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--skip-keepsake", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    if args.scenario:
        seconds = run_scenario(args.out, args.scenario)
        print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))
        return
    os.makedirs(args.out, exist_ok=True)
    prepare(args.out)
    # The fixture scripts pin PyTorch to its plain kernels for bit-exact noise; a benchmark gives
    # PyTorch its fastest ones (the normal-distribution kernel on this machine is the same).
    os.environ.pop("ATEN_CPU_CAPABILITY", None)
    results = {"torch": torch.__version__, "threads": os.cpu_count()}
    for name in SCENARIOS:
        if args.only and name not in args.only:
            continue
        line = subprocess.run([sys.executable, __file__, args.out, "--scenario", name], check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(line.strip().splitlines()[-1])
        print(f"PyTorch {name}: {results[name]['seconds']:.2f} s, peak RSS {results[name]['peak_rss_mb']:.0f} MB", flush=True)
    with open(os.path.join(args.out, "pytorch.json"), "w") as f:
        json.dump(results, f, indent=2)
    if not args.skip_keepsake:
        cmd = ["cargo", "run", "-q", "-p", "keepsake", "--", "bench", "--dir", args.out] + sum((["--only", o] for o in args.only), [])
        subprocess.run(cmd, check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
