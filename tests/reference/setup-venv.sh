#!/usr/bin/env bash
# Creates the reference venv (.venv-reference at the repo root) from PyPI.
#   setup-venv.sh tokenizer   transformers + the CLIP BPE file (no torch; a few seconds)
#   setup-venv.sh torch       PyTorch, diffusers, transformers (about 3 GB download, 5 GB installed)
set -euo pipefail
cd "$(dirname "$0")/../.."
what="${1:-tokenizer}"
python3 -m venv .venv-reference
case "$what" in
  tokenizer)
    .venv-reference/bin/pip install -q -r tests/reference/requirements-tokenizer.txt
    # Only open_clip's data file is used; its torch dependency is not needed for that.
    .venv-reference/bin/pip install -q --no-deps open_clip_torch==3.3.0
    ;;
  torch)
    .venv-reference/bin/pip install -q -r tests/reference/requirements-torch.txt
    .venv-reference/bin/pip install -q --no-deps open_clip_torch==3.3.0
    # k-diffusion's samplers only (make_k_sampler_fixtures.py loads sampling.py and external.py
    # alone); its package also pulls in training tools (CLIP, wandb, clean-fid) not needed here.
    .venv-reference/bin/pip install -q --no-deps k-diffusion==0.1.1.post1
    ;;
  *) echo "unknown reference set: $what" >&2; exit 2 ;;
esac
