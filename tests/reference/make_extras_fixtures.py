#!/usr/bin/env python3
"""What A1111's extras tab makes of a picture with its built-in upscalers, done with PIL as A1111
does it (modules/upscaler.py and scripts/postprocessing_upscale.py, A1111 1.10): the upscaler's
own resize to `scale` times the size (int), then a Lanczos resize to that size rounded down to a
multiple of 8; "scale to" takes the larger of the two ratios and pastes the result centred on a
black canvas of the asked size. tests/a1111_api.rs sends the same requests to
/sdapi/v1/extra-single-image and compares.

Needs only Pillow: .venv-tests/bin/python tests/reference/make_extras_fixtures.py
"""
import json
import os

import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")
OUT = os.path.join(FIX, "extras")

FILTERS = {"Lanczos": Image.Resampling.LANCZOS, "Nearest": Image.Resampling.NEAREST}


def upscale(image, name, scale):
    dest = (int((image.width * scale) // 8 * 8), int((image.height * scale) // 8 * 8))
    step = image.resize((int(image.width * scale), int(image.height * scale)), resample=FILTERS[name])
    if step.size != dest:
        step = step.resize(dest, resample=Image.Resampling.LANCZOS)
    return step


def main():
    os.makedirs(OUT, exist_ok=True)
    # A small picture keeps the fixture small; the photo has edges and smooth skin alike.
    source = Image.open(os.path.join(FIX, "preprocessors", "photo.png")).convert("RGB").resize((100, 75), Image.Resampling.BICUBIC)
    source.save(os.path.join(OUT, "source.png"))
    cases = []

    def case(name, request, image):
        image.save(os.path.join(OUT, f"{name}.png"))
        cases.append({"name": name, "request": request, "size": list(image.size)})

    case("lanczos_by_2.5", {"upscaler_1": "Lanczos", "upscaling_resize": 2.5}, upscale(source, "Lanczos", 2.5))
    case("nearest_by_3", {"upscaler_1": "Nearest", "upscaling_resize": 3}, upscale(source, "Nearest", 3))
    # Scale to 160x160 with the crop: 160/75 is the larger ratio; the result is pasted centred.
    scale = max(160 / source.width, 160 / source.height)
    up = upscale(source, "Lanczos", scale)
    canvas = Image.new("RGB", (160, 160))
    canvas.paste(up, box=(160 // 2 - up.width // 2, 160 // 2 - up.height // 2))
    case("lanczos_to_160_crop", {"upscaler_1": "Lanczos", "resize_mode": 1, "upscaling_resize_w": 160, "upscaling_resize_h": 160}, canvas)
    # Two upscalers blended.
    blend = Image.blend(upscale(source, "Lanczos", 2), upscale(source, "Nearest", 2), 0.25)
    case("blend", {"upscaler_1": "Lanczos", "upscaler_2": "Nearest", "extras_upscaler_2_visibility": 0.25}, blend)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"generated_by": "tests/reference/make_extras_fixtures.py", "pillow": PIL.__version__, "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
