#!/usr/bin/env python3
"""A1111 API requests and what diffusers makes of the same settings (tests/a1111_api.rs sends
each request to `keepsake serve` on the tiny SD and compares the picture it gets back).

1. img2img with a LoRA from the prompt (`<lora:kohya:0.8>`) and three ControlNet units with
   their own weights and guidance windows: StableDiffusionControlNetImg2ImgPipeline with a
   MultiControlNet and the LoRA loaded by load_lora_weights/set_adapters.
2. txt2img, "DPM++ 2M" with the "Karras" scheduler, one ControlNet unit:
   StableDiffusionControlNetPipeline.

Both with torch.Generator("cpu").manual_seed(seed) and PyTorch's scalar noise kernel (the server
is started with --noise-kernel scalar to match). Run after make_controlnet_fixtures.py and
make_lora_fixtures.py: .venv-reference/bin/python tests/reference/make_api_fixtures.py
"""
import base64
import io
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np
import torch
import diffusers
from diffusers import ControlNetModel, StableDiffusionControlNetImg2ImgPipeline, StableDiffusionControlNetPipeline
from PIL import Image

from make_pipeline_fixtures import NEGATIVE, PROMPT, SEED, input_image, tiny_components, tiny_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")


def png_b64(image):
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def u8(out):
    return [int(v) for v in np.round(out * 255).astype(np.uint8).flatten()]


def main():
    components = tiny_components()
    nets = [ControlNetModel.from_pretrained(os.path.join(FIX, "controlnet", f"cn{k}"), torch_dtype=torch.float32).eval() for k in (1, 2, 3)]
    controls = [Image.open(os.path.join(FIX, "controlnet", f"control{k}.png")).convert("RGB") for k in (1, 2, 3)]
    photo = Image.fromarray((input_image()[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))

    units = [(0, 0.5, 0.0, 1.0), (1, 0.8, 0.2, 0.8), (2, 1.0, 0.0, 0.5)]
    img2img = {
        "init_images": ["data:image/png;base64," + png_b64(photo)],
        "prompt": PROMPT + " <lora:kohya:0.8>",
        "negative_prompt": NEGATIVE,
        "seed": SEED,
        "sampler_name": "Euler a",
        "scheduler": "Automatic",
        "steps": 9,
        "cfg_scale": 7,
        "denoising_strength": 0.6,
        "width": 64,
        "height": 48,
        "alwayson_scripts": {"ControlNet": {"args": [
            {"enabled": True, "module": "none", "model": f"cn{k + 1}", "weight": w, "image": png_b64(controls[k]),
             "guidance_start": s, "guidance_end": e, "resize_mode": "Just Resize", "control_mode": "Balanced"}
            for k, w, s, e in units]}},
    }
    pipe = tiny_pipeline(components, cls=StableDiffusionControlNetImg2ImgPipeline, controlnet=[nets[k] for k, *_ in units])
    pipe.load_lora_weights(os.path.join(FIX, "lora"), weight_name="kohya.safetensors", adapter_name="kohya")
    pipe.set_adapters(["kohya"], adapter_weights=[0.8])
    with torch.no_grad():
        out = pipe(
            prompt=PROMPT, negative_prompt=NEGATIVE, image=input_image(), control_image=[controls[k] for k, *_ in units],
            controlnet_conditioning_scale=[w for _, w, _, _ in units], control_guidance_start=[s for *_, s, _ in units],
            control_guidance_end=[e for *_, e in units], strength=0.6, num_inference_steps=9, guidance_scale=7.0,
            generator=torch.Generator("cpu").manual_seed(SEED), output_type="np",
        ).images[0]
    pipe.unload_lora_weights()
    runs = [{"endpoint": "img2img", "request": img2img, "image_u8": u8(out), "width": 64, "height": 48}]
    print("img2img", float(out.mean()))

    txt2img = {
        "prompt": "a quiet garden at dusk, warm light",
        "seed": 7,
        "sampler_name": "DPM++ 2M",
        "scheduler": "Karras",
        "steps": 6,
        "cfg_scale": 5,
        "width": 64,
        "height": 48,
        "alwayson_scripts": {"controlnet": {"args": [
            {"module": "none", "model": "cn2", "weight": 0.7, "image": png_b64(controls[1]), "resize_mode": "Just Resize"}]}},
    }
    pipe = tiny_pipeline(components, scheduler="dpmpp-2m-karras", cls=StableDiffusionControlNetPipeline, controlnet=nets[1])
    with torch.no_grad():
        out = pipe(
            prompt=txt2img["prompt"], negative_prompt="", image=controls[1], controlnet_conditioning_scale=0.7, height=48, width=64,
            num_inference_steps=6, guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(7), output_type="np",
        ).images[0]
    runs.append({"endpoint": "txt2img", "request": txt2img, "image_u8": u8(out), "width": 64, "height": 48})
    print("txt2img", float(out.mean()))

    with open(os.path.join(FIX, "api_outputs.json"), "w") as f:
        json.dump({"generated_by": "tests/reference/make_api_fixtures.py", "diffusers": diffusers.__version__, "runs": runs}, f)


if __name__ == "__main__":
    main()
