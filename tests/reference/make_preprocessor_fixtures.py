#!/usr/bin/env python3
"""The ControlNet preprocessors' reference outputs, from controlnet_aux 0.0.10 (PyPI), the package
diffusers' ControlNet examples use and whose annotators are A1111's.

- photo.png: a fixed 512x384 test picture (soft gradients, shapes, fine texture), at a size
  controlnet_aux's resize_image keeps as it is (sides multiples of 64, resolution = short side),
  so each detector's own arithmetic is compared, not OpenCV's resampling.
- canny-100-200.png, canny-50-150.png: CannyDetector (cv2.Canny on the RGB picture).
- openpose/: the body network (controlnet_aux's bodypose_model, its convolutions narrowed 16x
  so the file is small; 3/19/38-channel inputs and outputs as they are) with seeded random
  weights saved as body_pose_model.pth in the public file's layout, a fixed input and its two
  outputs (network.safetensors); and the post-processing: synthetic heatmaps and part affinity
  fields for two people (maps.safetensors, f16) run through Body's peak finding and limb
  assembly (body.json: candidates and people) and drawn by draw_poses at 512x384 (pose.png).
- mlsd/: M-LSD's MobileV2_MLSD_Large with seeded random weights (f16, in the public
  mlsd_large_512_fp32.pth layout), a fixed input and its raw output (network.safetensors); and the
  line decoding: a synthetic output map for a 128x192 picture (tpmap.safetensors) decoded by
  pred_lines (lines.json) and drawn by MLSDdetector (lines.png).
- leres/: LeReS' depth network (ResNeXt-101 32x8d and its decoder) with every width and group
  count 16x smaller, seeded random weights in the public res101.pth layout ({"depth_model":
  ...}), a fixed input and its output (network.safetensors); and the depth picture: a synthetic
  depth map (depth.safetensors) through LeresDetector's normalisation, thresholds and inversion
  with thr_a/thr_b 0/0 and 10/20 (depth-0-0.png, depth-10-20.png).
- depth_anything/: transformers' DepthAnythingForDepthEstimation (Depth Anything V2's
  architecture: DINOv2 backbone, DPT neck and head) in a small configuration with seeded random
  weights, in the layout of the public Depth-Anything-V2-Small-hf model.safetensors and its
  config.json, and its depth for a square input (position embeddings as trained) and a wider one
  (position embeddings interpolated) (network.safetensors).

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


def stub(forward=lambda x: None):
    """A model that only answers `forward` (the detectors ask a model for its device first)."""
    import torch

    class Stub(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return forward(x)

    return Stub()


def randomise(net, conv_gain=None):
    """Seeded random norms and biases (so they matter), convolution weights too with `conv_gain`
    (variance gain / fan-in), every value then rounded to f16 as the fixture file stores it."""
    import torch

    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("running_mean"):
                t.copy_(torch.randn_like(t) * 0.1)
            elif name.endswith("running_var"):
                t.copy_(torch.rand_like(t) + 0.5)
            elif name.endswith("num_batches_tracked"):
                pass
            elif t.dim() == 1:
                t.copy_(torch.randn_like(t) * 0.1 + (1.0 if name.endswith(".weight") else 0.0))
            elif conv_gain is not None:
                t.copy_(torch.randn_like(t) * (conv_gain / t[0].numel()) ** 0.5)
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.half().float())


def narrow(c):
    """The bodypose_model's widths, 16x narrower; image, heatmap and PAF channels kept."""
    return {3: 3, 19: 19, 38: 38, 185: 38 + 19 + 128 // 16}.get(c, c // 16)


def body_network(out):
    import torch
    from safetensors.torch import save_file
    from controlnet_aux.open_pose import model as pose_model

    real_conv = torch.nn.Conv2d
    pose_model.nn.Conv2d = lambda in_channels, out_channels, kernel_size, stride, padding: real_conv(
        narrow(in_channels), narrow(out_channels), kernel_size, stride, padding)
    try:
        torch.manual_seed(0)
        net = pose_model.bodypose_model().eval()
    finally:
        pose_model.nn.Conv2d = real_conv
    with torch.no_grad():
        for name, p in net.named_parameters():
            # Enough spread that activations neither vanish nor explode through 40 layers.
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn_like(p) * (1.5 / fan_in) ** 0.5 if p.dim() > 1 else torch.randn_like(p) * 0.05)
    # The public file's keys: the layer names without the block (util.transfer maps them back).
    state = {".".join(k.split(".")[1:]): v.clone() for k, v in net.state_dict().items()}
    torch.save(state, os.path.join(out, "body_pose_model.pth"))
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1)) - 0.5
    with torch.no_grad():
        paf, heat = net(x)
    save_file({"input": x.contiguous(), "paf": paf.contiguous(), "heatmap": heat.contiguous()}, os.path.join(out, "network.safetensors"))


# Two people in a 64x96 (H x W) picture: (x, y) per OpenPose body part, None where unseen.
PEOPLE = [
    [(30, 10), (30, 20), (22, 20), (18, 30), (16, 40), (38, 20), (42, 30), (44, 40), (25, 40), (25, 50), (25, 60),
     (35, 40), (35, 50), (35, 60), (28, 8), (32, 8), (26, 9), (34, 9)],
    [(70, 14), (70, 24), (62, 24), (58, 34), None, (78, 24), (82, 34), (84, 44), (66, 44), (66, 54), None,
     (74, 44), (74, 54), (75, 62), (68, 12), (72, 12), None, (74, 13)],
]
LIMBS = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12], [12, 13], [13, 14],
         [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [3, 17], [6, 18]]
PAF_CHANNELS = [[31, 32], [39, 40], [33, 34], [35, 36], [41, 42], [43, 44], [19, 20], [21, 22], [23, 24], [25, 26],
                [27, 28], [29, 30], [47, 48], [49, 50], [53, 54], [51, 52], [55, 56], [37, 38], [45, 46]]
MAP_H, MAP_W = 64, 96


def synthetic_maps():
    yy, xx = np.meshgrid(np.arange(MAP_H), np.arange(MAP_W), indexing="ij")
    heat = np.zeros((MAP_H, MAP_W, 19))
    paf = np.zeros((MAP_H, MAP_W, 38))
    for person in PEOPLE:
        for part, p in enumerate(person):
            if p is not None:
                heat[:, :, part] = np.maximum(heat[:, :, part], 0.9 * np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * 2.0 ** 2)))
        for (a, b), (cx, cy) in zip(LIMBS, PAF_CHANNELS):
            pa, pb = person[a - 1], person[b - 1]
            if pa is None or pb is None:
                continue
            v = np.array(pb, float) - np.array(pa, float)
            n = np.linalg.norm(v)
            u = v / n
            rel_x, rel_y = xx - pa[0], yy - pa[1]
            along = rel_x * u[0] + rel_y * u[1]
            across = np.abs(rel_x * u[1] - rel_y * u[0])
            on = (along >= -1) & (along <= n + 1) & (across <= 2.5)
            paf[:, :, cx - 19][on] = u[0]
            paf[:, :, cy - 19][on] = u[1]
    heat[:, :, 18] = np.clip(1 - heat[:, :, :18].max(axis=2), 0, 1)
    # What the fixture stores (f16) is what both sides read.
    return heat.astype(np.float16).astype(np.float64), paf.astype(np.float16).astype(np.float64)


def body_post_processing(out):
    """Body.__call__ from its maps on: the network and the resizing around it are stubbed so the
    maps above reach the peak finding and limb assembly as they are."""
    import json
    import torch
    from safetensors.numpy import save_file
    from controlnet_aux.open_pose import body as body_module, draw_poses, PoseResult
    from controlnet_aux.open_pose.body import Body, BodyResult, Keypoint

    heat, paf = synthetic_maps()
    save_file({"heatmap": heat.astype(np.float16), "paf": paf.astype(np.float16)}, os.path.join(out, "maps.safetensors"))

    def maps_of_zeros(x):
        h, w = x.shape[2] // 8, x.shape[3] // 8
        return torch.zeros(1, 38, h, w), torch.zeros(1, 19, h, w)

    util = body_module.util
    saved = util.smart_resize_k, util.smart_resize
    full = {19: heat, 38: paf}
    util.smart_resize_k = lambda x, fx, fy: x if x.dtype == np.uint8 else full[x.shape[2]]
    util.smart_resize = lambda x, s: x
    try:
        b = Body.__new__(Body)
        b.model = stub(maps_of_zeros)
        candidate, subset = b(np.zeros((MAP_H, MAP_W, 3), np.uint8))
    finally:
        util.smart_resize_k, util.smart_resize = saved
    bodies = Body.format_body_result(candidate, subset)
    with open(os.path.join(out, "body.json"), "w") as f:
        json.dump({"candidates": candidate.tolist(), "people": subset.tolist(), "height": MAP_H, "width": MAP_W}, f)
    # Drawn as OpenposeDetector.detect_poses and draw_poses do: positions over the picture's
    # size, then a canvas of another size (the control image at its own resolution).
    poses = [PoseResult(BodyResult([Keypoint(k.x / float(MAP_W), k.y / float(MAP_H)) if k is not None else None for k in body.keypoints],
                                   body.total_score, body.total_parts), None, None, None) for body in bodies]
    canvas = draw_poses(poses, 384, 512, draw_body=True, draw_hand=False, draw_face=False)
    Image.fromarray(canvas).save(os.path.join(out, "pose.png"))


def mlsd_network(out):
    import torch
    from safetensors.torch import save_file
    from controlnet_aux.mlsd.models.mbv2_mlsd_large import MobileV2_MLSD_Large

    torch.manual_seed(2)
    net = MobileV2_MLSD_Large().eval()
    # The file holds f16 (half the size); the reference runs on the same rounded values.
    randomise(net)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    torch.save(state, os.path.join(out, "mlsd_large_512_fp32.pth"))
    x = torch.rand(1, 4, 64, 96, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        y = net(x)
    save_file({"input": x.contiguous(), "output": y.contiguous()}, os.path.join(out, "network.safetensors"))


LINES = [((20, 30), (150, 40)), ((100, 10), (110, 110)), ((30, 100), (170, 60)), ((60, 70), (64, 72))]


def mlsd_decoding(out):
    """pred_lines and MLSDdetector from the model's output on: the model is a stub returning a
    map with a centre peak and end-point displacements for each line above (and one too short)."""
    import json
    import torch
    from safetensors.torch import save_file
    from controlnet_aux.mlsd import MLSDdetector
    from controlnet_aux.mlsd.utils import pred_lines

    H, W = 128, 192
    h, w = H // 2, W // 2
    tp = torch.full((1, 9, h, w), -6.0)
    g = torch.Generator().manual_seed(4)
    tp[0, 0] += torch.rand(h, w, generator=g)  # low, uneven background
    for n, ((x0, y0), (x1, y1)) in enumerate(LINES):
        cx, cy = (x0 + x1) / 4, (y0 + y1) / 4  # the centre, in the half-size map
        ix, iy = int(cx), int(cy)
        tp[0, 0, iy, ix] = 3.0 + n * 0.5  # distinct scores: top-k's order among equals is torch's own
        tp[0, 0, iy, ix + 1] = 1.0  # a neighbour the 3x3 suppression removes
        tp[0, 1:5, iy, ix] = torch.tensor([x0 / 2 - ix, y0 / 2 - iy, x1 / 2 - ix, y1 / 2 - iy])
    tp[0, 1:5] += torch.randn(4, h, w, generator=g) * 0.01

    save_file({"tpmap": tp.contiguous()}, os.path.join(out, "tpmap.safetensors"))
    img = np.zeros((H, W, 3), np.uint8)
    with torch.no_grad():
        lines = pred_lines(img, stub(lambda x: tp.clone()), [H, W], 0.1, 0.1)
    with open(os.path.join(out, "lines.json"), "w") as f:
        json.dump({"lines": lines.tolist(), "height": H, "width": W}, f)
    MLSDdetector(stub(lambda x: tp.clone()))(Image.fromarray(img), detect_resolution=H, image_resolution=H).save(os.path.join(out, "lines.png"))


def leres_network(out):
    import torch
    from safetensors.torch import save_file
    from controlnet_aux.leres.leres import Resnext_torch, network_auxi
    from controlnet_aux.leres.leres.multi_depth_model_woauxi import RelDepthModel

    def narrow_c(c):
        return c if c in (1, 3) else c // 16

    real_conv, real_bn = torch.nn.Conv2d, torch.nn.BatchNorm2d

    class conv(real_conv):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
            super().__init__(narrow_c(in_channels), narrow_c(out_channels), kernel_size, stride, padding, dilation,
                             max(1, groups // 16), bias)

    class bn(real_bn):
        def __init__(self, num_features):
            super().__init__(narrow_c(num_features))

    for module in (Resnext_torch.nn, network_auxi.nn):
        module.Conv2d, module.BatchNorm2d = conv, bn
    try:
        torch.manual_seed(5)
        net = RelDepthModel(backbone="resnext101").eval()
    finally:
        torch.nn.Conv2d, torch.nn.BatchNorm2d = real_conv, real_bn
    # Convolutions small enough that 33 residual blocks keep the activations in a sane range.
    randomise(net, conv_gain=0.5)
    # As the public file: {"depth_model": state dict with DataParallel's "module." prefix}, f16 here.
    state = {"module." + k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    torch.save({"depth_model": state}, os.path.join(out, "res101.pth"))
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        y = net.depth_model(x)
    save_file({"input": x.contiguous(), "output": y.contiguous()}, os.path.join(out, "network.safetensors"))


def leres_depth_picture(out):
    """LeresDetector.__call__ after the network: estimateleres is stubbed to give a fixed map."""
    import torch
    from safetensors.numpy import save_file
    import controlnet_aux.leres as leres

    H, W = 64, 128  # sides multiples of 64: resize_image keeps the picture as it is
    yy, xx = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    depth = (np.sin(xx / 9.0) * 3 + yy / 8.0 + 2 * np.exp(-((xx - 40) ** 2 + (yy - 30) ** 2) / 200.0)).astype(np.float32)
    save_file({"depth": depth}, os.path.join(out, "depth.safetensors"))
    saved = leres.estimateleres
    leres.estimateleres = lambda img, model, w, h: depth.copy()

    try:
        detector = leres.LeresDetector(stub(), None)
        for a, b in ((0, 0), (10, 20)):
            img = Image.fromarray(np.zeros((H, W, 3), np.uint8))
            detector(img, thr_a=a, thr_b=b, detect_resolution=H, image_resolution=H).save(os.path.join(out, f"depth-{a}-{b}.png"))
    finally:
        leres.estimateleres = saved


def depth_anything_network(out):
    import json
    import torch
    from safetensors.torch import save_file
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=128, patch_size=14,
                            image_size=56, layerscale_value=1.0, out_indices=[1, 2, 3, 4], apply_layernorm=True,
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, patch_size=14, neck_hidden_sizes=[8, 16, 32, 32],
                                 fusion_hidden_size=16, head_hidden_size=8, reassemble_factors=[4, 2, 1, 0.5])
    torch.manual_seed(8)
    net = DepthAnythingForDepthEstimation(config).eval()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                t.copy_((torch.randn_like(t) * (0.5 if t.dim() < 2 else (1.0 / t[0].numel()) ** 0.5)
                         + (1.0 if name.endswith(("norm1.weight", "norm2.weight", "layernorm.weight")) else 0.0)).half().float())
    net.save_pretrained(out, safe_serialization=True)
    for name in ("model.safetensors",):
        assert os.path.exists(os.path.join(out, name))
    g = torch.Generator().manual_seed(9)
    square = torch.randn(1, 3, 56, 56, generator=g)
    wide = torch.randn(1, 3, 56, 84, generator=g)
    with torch.no_grad():
        outputs = {"square_input": square, "square_output": net(pixel_values=square).predicted_depth,
                   "wide_input": wide, "wide_output": net(pixel_values=wide).predicted_depth}
    save_file({k: v.contiguous() for k, v in outputs.items()}, os.path.join(out, "network.safetensors"))


def main():
    from controlnet_aux import CannyDetector

    os.makedirs(OUT, exist_ok=True)
    img = photo()
    img.save(os.path.join(OUT, "photo.png"))
    canny = CannyDetector()
    for low, high in ((100, 200), (50, 150)):
        out = canny(img, low_threshold=low, high_threshold=high, detect_resolution=H, image_resolution=H)
        out.save(os.path.join(OUT, f"canny-{low}-{high}.png"))
    pose = os.path.join(OUT, "openpose")
    os.makedirs(pose, exist_ok=True)
    body_network(pose)
    body_post_processing(pose)
    mlsd = os.path.join(OUT, "mlsd")
    os.makedirs(mlsd, exist_ok=True)
    mlsd_network(mlsd)
    mlsd_decoding(mlsd)
    leres = os.path.join(OUT, "leres")
    os.makedirs(leres, exist_ok=True)
    leres_network(leres)
    leres_depth_picture(leres)
    depth_anything = os.path.join(OUT, "depth_anything")
    os.makedirs(depth_anything, exist_ok=True)
    depth_anything_network(depth_anything)


if __name__ == "__main__":
    main()
