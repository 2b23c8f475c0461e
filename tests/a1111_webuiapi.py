#!/usr/bin/env python3
"""The unmodified `webuiapi` client (PyPI) against `keepsake serve` on the tiny fixture model:
img2img with three ControlNet units (openpose, depth, mlsd) and a LoRA, the seed read from
`info`, txt2img, options, the lists, detect, progress (with its preview) and interrupt.

Run by tests/a1111_api.rs: a1111_webuiapi.py PORT FIXTURES_DIR TOKEN
"""
import base64
import io
import sys
import threading
import time

from PIL import Image
import webuiapi

port, fixtures, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]

api = webuiapi.WebUIApi(host="127.0.0.1", port=port, sampler="Euler a", steps=4)
assert not api.has_controlnet, "without the token the booth answers nothing (401)"
api.set_auth("booth", token)  # webuiapi looks for ControlNet again, now signed in
assert api.has_controlnet, "webuiapi must find ControlNet in /sdapi/v1/scripts"

photo = Image.open(f"{fixtures}/preprocessors/photo.png").convert("RGB").resize((96, 72))

models = api.controlnet_model_list()
modules = api.controlnet_module_list()
assert models == ["cn1", "cn2", "cn3"], models
for m in ("openpose", "depth_leres", "mlsd"):
    assert m in modules, modules
units = [
    webuiapi.ControlNetUnit(module="openpose", model=models[0], weight=0.6, processor_res=64),
    webuiapi.ControlNetUnit(module="depth_leres", model=models[1], weight=0.5, processor_res=64, guidance_start=0.1, guidance_end=0.9),
    webuiapi.ControlNetUnit(module="mlsd", model=models[2], weight=0.4, processor_res=64, control_mode=1),
]
r = api.img2img(images=[photo], prompt="a warm portrait <lora:kohya:0.8>", negative_prompt="blurry", seed=1234, steps=6,
                cfg_scale=7, denoising_strength=0.6, width=64, height=48, controlnet_units=units)
assert r.image.size == (64, 48), r.image.size
# The extension sends each unit's detected map after the picture.
assert len(r.images) == 4 and all(m.size == (64, 48) for m in r.images[1:]), r.images
assert r.info["seed"] == 1234, r.info
extra = r.info["extra_generation_params"]
assert "Module: openpose, Model: cn1, Weight: 0.6" in extra["ControlNet 0"], extra
assert "Control Mode: My prompt is more important" in extra["ControlNet 2"], extra
assert extra["Lora weights"] == "kohya: 0.8", extra
assert r.info["prompt"].strip() == "a warm portrait", r.info
assert r.image.info["parameters"].startswith("a warm portrait"), r.image.info
print("img2img with 3 ControlNet units + LoRA: ok", r.info["sampler_name"], r.info["seed"])

# A random seed is reported, and asking for it again gives the same picture.
r1 = api.img2img(images=[photo], prompt="a portrait", seed=-1, steps=3, width=64, height=48)
seed = r1.info["seed"]
assert isinstance(seed, int) and seed >= 0, r1.info
r2 = api.img2img(images=[photo], prompt="a portrait", seed=seed, steps=3, width=64, height=48)
assert r2.info["seed"] == seed and r1.image.tobytes() == r2.image.tobytes()
print("seed -1 -> seed", seed, "reproduced")

t = api.txt2img(prompt="a quiet garden", seed=5, steps=3, width=64, height=64, batch_size=2, sampler_name="DPM++ 2M", scheduler="Karras")
assert len(t.images) == 2 and t.images[0].size == (64, 64), t.images
assert t.info["all_seeds"] == [5, 6] and t.info["sampler_name"] == "DPM++ 2M" and t.info["scheduler"] == "karras", t.info
assert t.images[0].tobytes() != t.images[1].tobytes()
print("txt2img batch of 2: ok")

options = api.get_options()
assert options["sd_model_checkpoint"] == "sd-tiny", options
assert api.util_get_current_model() == "sd-tiny"
api.set_options({"CLIP_stop_at_last_layers": 2})
assert api.get_options()["CLIP_stop_at_last_layers"] == 2
c2 = api.txt2img(prompt="a quiet garden", seed=5, steps=3, width=64, height=64)
assert c2.info["clip_skip"] == 2 and c2.image.tobytes() != t.images[0].tobytes()
api.set_options({"CLIP_stop_at_last_layers": 1})
# Another checkpoint from --models-dir: the same tiny model as one LDM-layout file.
assert api.util_get_model_names() == ["sd-tiny", "sd-tiny.safetensors"], api.util_get_model_names()
folder = api.txt2img(prompt="a quiet garden", seed=5, steps=3, width=64, height=64)
api.util_set_model("sd-tiny.safetensors")
assert api.util_get_current_model() == "sd-tiny.safetensors"
single = api.txt2img(prompt="a quiet garden", seed=5, steps=3, width=64, height=64)
diff = max(abs(a - b) for a, b in zip(single.image.tobytes(), folder.image.tobytes()))
assert diff <= 1, f"the same weights in the other layout make the same picture (max difference {diff})"
api.util_set_model("sd-tiny")
assert api.get_options()["sd_model_checkpoint"] == "sd-tiny"
print("options and checkpoint switch: ok")

assert "DPM++ 2M" in api.util_get_sampler_names() and "karras" in api.util_get_scheduler_names()
assert api.util_get_model_names() == ["sd-tiny", "sd-tiny.safetensors"]
assert "kohya" in [l["name"] for l in api.get_loras()]
assert "loaded" in api.get_embeddings()
assert "controlnet" in api.get_scripts()["img2img"]
assert api.controlnet_version() == 3
d = api.controlnet_detect([photo], module="canny", processor_res=64, threshold_a=50, threshold_b=150)
assert len(d.images) == 1 and d.images[0].size[1] == 64, d.images[0].size
print("lists and detect: ok")

# The picture tools: resizing as A1111's extras tab, the settings read back from a picture.
big = api.extra_single_image(photo, upscaler_1="Lanczos", upscaling_resize=2)
assert big.image.size == (192, 144), big.image.size
info = api.png_info(t.images[0])
assert info.parameters["Seed"] == "5" and info.parameters["Sampler"] == "DPM++ 2M", info.parameters
try:
    api.interrogate(photo)
    raise AssertionError("interrogate needs a captioning model this booth does not have")
except RuntimeError as e:
    assert e.args[0] == 422 and "no interrogator" in e.args[1], e.args
print("extras, png-info, interrogate: ok")

# Progress with its preview, then interrupt: the request answers with the picture so far.
result = {}
worker = threading.Thread(daemon=True, target=lambda: result.update(r=api.txt2img(prompt="a long walk", seed=9, steps=1000, width=64, height=64)))
worker.start()
seen = None
deadline = time.time() + 120
while time.time() < deadline:
    p = api.get_progress()
    if p["state"]["sampling_step"] >= 2 and p["current_image"]:
        seen = p
        break
    time.sleep(0.01)
assert seen, "no progress seen"
assert 0 < seen["progress"] < 1 and seen["state"]["sampling_steps"] == 1000 and seen["state"]["job_count"] >= 1, seen
preview = Image.open(io.BytesIO(base64.b64decode(seen["current_image"])))
assert preview.size == (32, 32), preview.size  # the latents: the tiny VAE scales by 2
api.interrupt()
worker.join(120)
assert not worker.is_alive()
r = result["r"]
assert r.info["interrupted"] is True and r.image.size == (64, 64), r.info
after = api.get_progress()
assert after["state"]["interrupted"] is True and after["state"]["job_count"] == 0, after
print("progress", seen["state"]["sampling_step"], "/ 1000 with preview, interrupt: ok")
print("webuiapi: all ok")
