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

With --device cuda (the GPU machine, docs/BENCHMARKS.md) the models run in fp16 on the card, each
scenario is timed after one untimed warm-up run, the median of --runs (default 5) is reported with
the card's peak memory (torch.cuda.max_memory_allocated), and the results go to
OUT/pytorch-cuda.json and OUT/pytorch-*-cuda.png; `keepsake bench --backend wgpu` reads those.
On the CPU the default is one run (PyTorch has nothing to warm there), as before.

Run: .venv-reference/bin/python tests/reference/bench_pytorch.py OUT [--device cpu|cuda] [--runs N]
     [--skip-keepsake] [--keepsake BIN] [--only NAME ...]
"""
import argparse
import json
import statistics
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
SCENARIOS = ["text-encode", "unet-step", "vae-decode", "taesd-decode", "img2img-lcm", "img2img-euler-a", "img2img-lcm-int8-3cn"]
# The thesis' three ControlNet units (openpose, depth, M-LSD): random full-size ControlNets made
# from the UNet (diffusers' ControlNetModel.from_unet), each given the photo as its control image.
CONTROLNETS = ["controlnet-openpose", "controlnet-depth", "controlnet-mlsd"]


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
    for i, name in enumerate(CONTROLNETS):
        if not os.path.exists(os.path.join(out, name)):
            from diffusers import ControlNetModel, UNet2DConditionModel
            unet = UNet2DConditionModel.from_pretrained(os.path.join(out, "diffusers", "unet"))
            torch.manual_seed(10 + i)
            perturb(ControlNetModel.from_unet(unet), 10 + i).half().save_pretrained(os.path.join(out, name))
    if not os.path.exists(os.path.join(out, "taesd")):
        torch.manual_seed(0)
        perturb(AutoencoderTiny(), 4).save_pretrained(os.path.join(out, "taesd"))
    h = w = 512
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    photo = np.stack([(np.sin(xx * 0.02) + 1) / 2, (np.cos(yy * 0.03) + 1) / 2, ((xx + yy) % 97) / 96.0], axis=-1)
    Image.fromarray(np.round(photo * 255).astype(np.uint8)).save(os.path.join(out, "photo.png"))


# Where and in what precision the models run: f32 on the CPU, fp16 on CUDA (diffusers' GPU default).
DEVICE = "cpu"


def dtype():
    return torch.float16 if DEVICE == "cuda" else torch.float32


def sync():
    """GPU work is finished only when the card says so: every clock read waits for it."""
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def load(out, what):
    from diffusers import AutoencoderKL, AutoencoderTiny, ControlNetModel, UNet2DConditionModel
    from transformers import CLIPTextModel

    d = os.path.join(out, "diffusers")
    t = dtype()
    if what in CONTROLNETS:
        return ControlNetModel.from_pretrained(os.path.join(out, what), torch_dtype=t).eval().to(DEVICE)
    return {
        "unet": lambda: UNet2DConditionModel.from_pretrained(os.path.join(d, "unet"), torch_dtype=t),
        "vae": lambda: AutoencoderKL.from_pretrained(os.path.join(d, "vae"), torch_dtype=t),
        "text_encoder": lambda: CLIPTextModel.from_pretrained(os.path.join(d, "text_encoder"), torch_dtype=t),
        "taesd": lambda: AutoencoderTiny.from_pretrained(os.path.join(out, "taesd"), torch_dtype=t),
    }[what]().eval().to(DEVICE)


def timed(warm, runs, once):
    """The seconds of each of `runs` calls of `once`, after `warm` untimed ones."""
    for _ in range(warm):
        once()
        sync()
    seconds = []
    for _ in range(runs):
        sync()
        t0 = time.perf_counter()
        once()
        sync()
        seconds.append(time.perf_counter() - t0)
    return seconds


def img2img(out, name, vae, scheduler, steps, cfg, warm, runs, controlnets=()):
    from diffusers import StableDiffusionControlNetImg2ImgPipeline, StableDiffusionImg2ImgPipeline
    from transformers import CLIPTokenizer

    unet = load(out, "unet")
    unet.register_to_config(sample_size=64)  # SD 1.5's; the random model's config leaves it unset
    parts = dict(
        vae=vae, text_encoder=load(out, "text_encoder"), tokenizer=CLIPTokenizer.from_pretrained(TOKENIZER), unet=unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    photo = Image.open(os.path.join(out, "photo.png")).convert("RGB")
    extra = {}
    if controlnets:
        pipe = StableDiffusionControlNetImg2ImgPipeline(controlnet=[load(out, c) for c in controlnets], **parts)
        extra = dict(control_image=[photo] * len(controlnets), controlnet_conditioning_scale=[1.0] * len(controlnets))
    else:
        pipe = StableDiffusionImg2ImgPipeline(**parts)
    pipe.set_progress_bar_config(disable=True)
    images = []

    def once():
        images.append(pipe(prompt=PROMPT, negative_prompt=NEGATIVE, image=photo, strength=0.6, num_inference_steps=steps,
                           guidance_scale=cfg, generator=torch.Generator("cpu").manual_seed(4242), **extra).images[0])

    seconds = timed(warm, runs, once)
    tag = "-cuda" if DEVICE == "cuda" else ""
    images[-1].save(os.path.join(out, f"pytorch-{name}{tag}.png"))
    return seconds


def run_scenario(out, name, runs):
    from diffusers import EulerAncestralDiscreteScheduler, LCMScheduler

    # SD 1.5's scheduler config (as make_scheduler_fixtures.py wrote it).
    sd15 = os.path.join(ROOT, "tests", "fixtures", "sd-tiny", "scheduler")
    warm = 1 if DEVICE == "cuda" else 0

    torch.set_num_threads(os.cpu_count())
    with torch.no_grad():
        if name == "text-encode":
            from transformers import CLIPTokenizer
            tok = CLIPTokenizer.from_pretrained(TOKENIZER)
            te = load(out, "text_encoder")
            ids = tok([NEGATIVE, PROMPT], padding="max_length", max_length=77, return_tensors="pt").input_ids.to(DEVICE)
            return timed(warm, runs, lambda: te(ids))
        if name == "unet-step":
            unet = load(out, "unet")
            g = torch.Generator("cpu").manual_seed(0)
            latents = torch.randn((2, 4, 64, 64), generator=g).to(DEVICE, dtype())
            context = torch.randn((2, 77, 768), generator=g).to(DEVICE, dtype())
            return timed(warm, runs, lambda: unet(latents, torch.tensor(500.0, device=DEVICE), encoder_hidden_states=context))
        if name in ("vae-decode", "taesd-decode"):
            vae = load(out, "vae" if name == "vae-decode" else "taesd")
            latents = torch.randn((1, 4, 64, 64), generator=torch.Generator("cpu").manual_seed(0)).to(DEVICE, dtype())
            return timed(warm, runs, lambda: vae.decode(latents))
        if name == "img2img-lcm":
            return img2img(out, name, load(out, "taesd"), LCMScheduler.from_pretrained(sd15), 7, 1.5, warm, runs)
        if name == "img2img-euler-a":
            return img2img(out, name, load(out, "vae"), EulerAncestralDiscreteScheduler.from_pretrained(sd15), 20, 7.0, warm, runs)
        if name == "img2img-lcm-int8-3cn":
            # diffusers has no int8: its own precision, the same three units.
            return img2img(out, name, load(out, "taesd"), LCMScheduler.from_pretrained(sd15), 7, 1.5, warm, runs, CONTROLNETS)
    raise SystemExit(f"unknown scenario {name}")


def main():
    global DEVICE
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--scenario")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--runs", type=int, help="timed runs per scenario, the median reported (default: 5 on CUDA, 1 on the CPU)")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--skip-keepsake", action="store_true")
    ap.add_argument("--keepsake", help="the keepsake binary to run afterwards (default: cargo run --release)")
    args = ap.parse_args()
    DEVICE = args.device
    runs = max(1, args.runs or (5 if DEVICE == "cuda" else 1))
    sys.path.insert(0, HERE)
    if args.scenario:
        if DEVICE == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds = run_scenario(args.out, args.scenario, runs)
        gpu = torch.cuda.max_memory_allocated() / 2**20 if DEVICE == "cuda" else None
        print(json.dumps({"seconds": statistics.median(seconds), "runs": seconds, "peak_rss_mb": peak_rss_mb(), "gpu_peak_mb": gpu}))
        return
    os.makedirs(args.out, exist_ok=True)
    prepare(args.out)
    # The fixture scripts pin PyTorch to its plain kernels for bit-exact noise; a benchmark gives
    # PyTorch its fastest ones (the normal-distribution kernel on this machine is the same).
    os.environ.pop("ATEN_CPU_CAPABILITY", None)
    where = torch.cuda.get_device_name(0) if DEVICE == "cuda" else f"CPU, {os.cpu_count()} threads"
    results = {"torch": torch.__version__, "threads": os.cpu_count(), "device": where}
    for name in SCENARIOS:
        if args.only and name not in args.only:
            continue
        cmd = [sys.executable, __file__, args.out, "--scenario", name, "--device", DEVICE, "--runs", str(runs)]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(line.strip().splitlines()[-1])
        print(f"PyTorch {name} ({where}): median {results[name]['seconds']:.3f} s of {runs}, peak RSS {results[name]['peak_rss_mb']:.0f} MB",
              flush=True)
    with open(os.path.join(args.out, "pytorch-cuda.json" if DEVICE == "cuda" else "pytorch.json"), "w") as f:
        json.dump(results, f, indent=2)
    if not args.skip_keepsake:
        ours = ["bench", "--dir", args.out, "--backend", "wgpu" if DEVICE == "cuda" else "cpu"]
        ours += sum((["--only", o] for o in args.only), []) + (["--runs", str(args.runs)] if args.runs else [])
        cmd = [args.keepsake] + ours if args.keepsake else ["cargo", "run", "--release", "-q", "-p", "keepsake", "--"] + ours
        subprocess.run(cmd, check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
