#!/usr/bin/env python3
"""Reference ids for Keepsake's CLIP tokenizer (models/src/clip/tokenizer.rs).

The SD 1.5 tokenizer files are not reachable here; the PyPI package open_clip_torch ships the
OpenAI CLIP BPE file they were made from. This script builds vocab.json + merges.txt from it with
OpenAI's recipe (as the SD 1.5 tokenizer/ folder has them), loads them in transformers'
CLIPTokenizer, and writes the ids it gives for a few hundred prompts.

Run: tests/reference/setup-venv.sh tokenizer && .venv-reference/bin/python tests/reference/make_tokenizer_fixtures.py
"""
import gzip
import json
import os
import random
import shutil
import tempfile

import importlib.util

import transformers
from transformers import CLIPTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "clip")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def build_files(bpe_gz, folder):
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    # As in SD 1.5's tokenizer/ folder.
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump(special, f)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({**special, "model_max_length": 77, "do_lower_case": True, "tokenizer_class": "CLIPTokenizer"}, f)
    return len(vocab), len(merges)


def prompts():
    fixed = [
        "a photo of a cat",
        "",
        "   ",
        "A PHOTO OF A CAT",
        "portrait of an elderly woman, warm hand-painted animation style, soft light",
        "masterpiece, best quality, (smiling:1.2), [blurry], <lora:warm_style:0.8>",
        "don't, it's, we're, they've, I'm, you'll, he'd",
        "DON'T IT'S",
        "1941-2026, 3.14159, 007, 2x6 in",
        "café naïve résumé Ångström",
        "e\u0301cole (decomposed accent)",
        "김영희 할머니의 따뜻한 미소",
        "추모 사진, 수채화 스타일",
        "한국어와 English mixed 텍스트",
        "日本語のテキスト、漢字とかな",
        "中文提示词：温暖的手绘动画风格",
        "emoji 😀🎉❤️👍🏽 flags 🇰🇷",
        "tabs\tand\nnewlines\r\nand   many    spaces",
        "punctuation!!! ??? ... --- ___ *** ### @@@ $$$ %%% ^^^ &&& +++ === ~~~",
        "quotes \"double\" 'single' `back` «guillemets» “curly” ‘curly’",
        "html &amp; entities &lt;b&gt; &#39;",
        "full-width ＡＢＣ１２３ letters",
        "url https://memorial.example.org/k/abc?x=1&y=2",
        "<|startoftext|>special<|endoftext|> tokens",
        "hyphen-ated and under_scored and dot.ted words",
        "Ελληνικά και кириллица и עברית ו العربية",
        "Thai ภาษาไทย and Hindi हिन्दी",
        "zero\u200bwidth and non\u00a0breaking spaces",
        "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
        "a " * 100,
        ", ".join(["flowers"] * 60),
        " ".join(str(i) for i in range(120)),
    ]
    words = (
        "portrait woman man child grandmother grandfather smiling gentle warm light soft painting watercolor anime "
        "studio ghibli style illustration detailed face eyes hair flowers garden sunset autumn spring memorial "
        "candle white lily dress suit hat glasses beautiful serene peaceful golden hour bokeh film grain 35mm "
        "masterpiece best quality highres lowres bad anatomy extra fingers blurry jpeg artifacts watermark text"
    ).split()
    korean = "할머니 할아버지 미소 따뜻한 빛 꽃 정원 추억 사랑 기억 가족 사진 그림 수채화 애니메이션".split()
    symbols = [",", ".", "!", "?", "(", ")", "[", "]", ":", "1.2", "0.8", "-", "'s", "&", "😀", "—", "…"]
    rng = random.Random(20261126)
    generated = []
    for i in range(220):
        n = rng.randint(1, 40 if i % 10 else 120)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.7:
                w = rng.choice(words)
                parts.append(w.upper() if rng.random() < 0.1 else w)
            elif r < 0.85:
                parts.append(rng.choice(korean))
            else:
                parts.append(rng.choice(symbols))
        sep = rng.choice([" ", ", ", " ", "  "])
        generated.append(sep.join(parts))
    return fixed + generated


def main():
    os.makedirs(OUT, exist_ok=True)
    # open_clip is installed without torch, so find its data file without importing it.
    spec = importlib.util.find_spec("open_clip")
    bpe = os.path.join(os.path.dirname(spec.origin), "bpe_simple_vocab_16e6.txt.gz")
    shutil.copyfile(bpe, os.path.join(OUT, "bpe_simple_vocab_16e6.txt.gz"))
    with tempfile.TemporaryDirectory() as d:
        n_vocab, n_merges = build_files(bpe, d)
        tok = CLIPTokenizer.from_pretrained(d)
        assert tok("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407], tok("a photo of a cat")
        cases = []
        for p in prompts():
            full = tok(p, truncation=False)["input_ids"]
            padded = tok(p, padding="max_length", max_length=77, truncation=True)["input_ids"]
            cases.append({"prompt": p, "ids": full, "ids_77": padded})
        sample = {t: tok.convert_tokens_to_ids(t) for t in ["a</w>", "photo</w>", ",</w>", "<|endoftext|>", "ĠĠ", "ðŁĺ"]}
    meta = {
        "generated_by": "tests/reference/make_tokenizer_fixtures.py",
        "transformers": transformers.__version__,
        "tokenizer_class": type(tok).__name__,
        "vocab_size": n_vocab,
        "merges": n_merges,
        "vocab_sample": sample,
        "cases": cases,
    }
    with open(os.path.join(OUT, "tokenizer_ids.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=0)
    print(f"{len(cases)} prompts -> {OUT}/tokenizer_ids.json ({type(tok).__name__}, transformers {transformers.__version__})")


if __name__ == "__main__":
    main()
