#!/usr/bin/env python3
"""Tiny ControlNets for the tiny SD and what diffusers' StableDiffusionControlNetImg2ImgPipeline
makes with them (models/src/components/controlnet.rs and the pipeline's control path are checked against it).

Three ControlNets (ControlNetModel.from_unet of the tiny UNet, conditioning embedding (16, 32) so
the control image is at the tiny VAE's 2x scale, weights perturbed so the zero convolutions
matter, fp16) in tests/fixtures/controlnet/cn{1,2,3}/, three control images (stripes, rings,
a diagonal edge), and two img2img runs (Euler a, 9 steps, strength 0.6, cfg 7): one unit at weight
0.8, and three units with weights 0.5 / 0.8 / 1.0 and guidance windows (0, 1) / (0.2, 0.8) /
(0, 0.5).

Run after make_pipeline_fixtures.py: .venv-reference/bin/python tests/reference/make_controlnet_fixtures.py
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np
import torch
import diffusers
from diffusers import ControlNetModel, StableDiffusionControlNetImg2ImgPipeline
from PIL import Image

from make_pipeline_fixtures import SEED, reference_image, tiny_components, tiny_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "controlnet")
H, W = 48, 64


def control_images():
    yy, xx = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    stripes = np.stack([(xx // 4) % 2, (yy // 6) % 2, ((xx + yy) // 5) % 2], axis=-1) * 255
    r = np.sqrt((xx - W / 2) ** 2 + (yy - H / 2) ** 2)
    rings = np.repeat(((np.sin(r * 0.7) + 1) * 127.5)[..., None], 3, axis=-1)
    edge = np.repeat(((xx * H > yy * W) * 255)[..., None], 3, axis=-1)
    return [Image.fromarray(a.astype(np.uint8)) for a in (stripes, rings, edge)]


def main():
    components = tiny_components()
    unet = components[1]
    nets = []
    for k in range(3):
        torch.manual_seed(40 + k)
        net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32)).eval()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.05)
                p.copy_(p.half().float())
        path = os.path.join(OUT, f"cn{k + 1}")
        net.half().save_pretrained(path)
        nets.append(ControlNetModel.from_pretrained(path, torch_dtype=torch.float32).eval())
    images = control_images()
    for k, im in enumerate(images):
        im.save(os.path.join(OUT, f"control{k + 1}.png"))

    runs = []
    for units in ([(0, 0.8, 0.0, 1.0)], [(0, 0.5, 0.0, 1.0), (1, 0.8, 0.2, 0.8), (2, 1.0, 0.0, 0.5)]):
        multi = len(units) > 1
        pipe = tiny_pipeline(
            components, cls=StableDiffusionControlNetImg2ImgPipeline,
            controlnet=[nets[u[0]] for u in units] if multi else nets[units[0][0]],
        )
        out = reference_image(
            pipe,
            control_image=[images[u[0]] for u in units] if multi else images[units[0][0]],
            controlnet_conditioning_scale=[u[1] for u in units] if multi else units[0][1],
            control_guidance_start=[u[2] for u in units] if multi else units[0][2],
            control_guidance_end=[u[3] for u in units] if multi else units[0][3],
        )
        runs.append({"units": [{"net": f"cn{u[0] + 1}", "image": f"control{u[0] + 1}.png", "weight": u[1], "start": u[2], "end": u[3]} for u in units],
                     "scheduler": "euler-a", "steps": 9, "strength": 0.6, "cfg": 7.0, "seed": SEED, "image": out.flatten().tolist()})
        print(units, float(out.mean()))
    with open(os.path.join(ROOT, "fixtures", "controlnet_outputs.json"), "w") as f:
        json.dump({"generated_by": "tests/reference/make_controlnet_fixtures.py", "diffusers": diffusers.__version__, "runs": runs}, f)


if __name__ == "__main__":
    main()
