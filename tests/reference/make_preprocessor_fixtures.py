#!/usr/bin/env python3
"""The ControlNet preprocessors' reference outputs, from controlnet_aux 0.0.10 (PyPI), the package
diffusers' ControlNet examples use and whose annotators are A1111's.

- photo.png: a fixed 512x384 test picture (soft gradients, shapes, fine texture), at a size
  controlnet_aux's resize_image keeps as it is (sides multiples of 64, resolution = short side),
  so each detector's own arithmetic is compared, not OpenCV's resampling.
- canny-100-200.png, canny-50-150.png: CannyDetector (cv2.Canny on the RGB picture).

Run: .venv-reference/bin/python tests/reference/make_preprocessor_fixtures.py
"""
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "preprocessors")
H, W = 384, 512


def photo():
    yy, xx = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    base = np.stack([(np.sin(xx * 0.013) + 1) * 90 + 30, (np.cos(yy * 0.017) + 1) * 80 + 40, ((xx + 2 * yy) % 255) * 0.4 + 60], -1)
    img = Image.fromarray(base.astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.ellipse((180, 60, 330, 250), fill=(225, 190, 160))  # a face-like oval
    d.rectangle((150, 250, 360, 384), fill=(40, 60, 120))  # shoulders
    d.line((0, 40, 512, 120), fill=(250, 250, 250), width=3)
    d.polygon([(30, 300), (120, 200), (140, 340)], fill=(20, 140, 40))
    for i in range(12):
        d.line((400 + i * 8, 20, 380 + i * 9, 200), fill=(200 - i * 10, 80, 40 + i * 12), width=2)
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    rng = np.random.default_rng(7)
    noisy = np.asarray(img).astype(np.int16) + rng.integers(-6, 7, (H, W, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


def main():
    from controlnet_aux import CannyDetector

    os.makedirs(OUT, exist_ok=True)
    img = photo()
    img.save(os.path.join(OUT, "photo.png"))
    canny = CannyDetector()
    for low, high in ((100, 200), (50, 150)):
        out = canny(img, low_threshold=low, high_threshold=high, detect_resolution=H, image_resolution=H)
        out.save(os.path.join(OUT, f"canny-{low}-{high}.png"))


if __name__ == "__main__":
    main()
