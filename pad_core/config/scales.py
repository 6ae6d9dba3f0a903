"""Named override sets that move a config between run scales.

``paper`` is the dataclass defaults (ViT-B/16 with OpenAI weights, the papers' schedule) run the way a GPU cluster
runs it: bf16 autocast with fp32 router regions (docs/DESIGN.md, "Precision"). Sweeps apply a
scale over their paper base (a benchmark's data settings, a method's hyperparameters): the scale wins where
both set a key, and command-line flags win over both.
``demo`` is the CPU scale the README's first command uses: a 4M-parameter CLIP registered by pad_core, fine-tuned
(both towers, a fine-tuning learning rate) from the weights scripts/demo.sh passes with ``--pretrained`` (pretrained
on a synthetic captioned-shapes corpus by ``python -m pad_core pretrain``; no weights can be downloaded), the
synthetic benchmark, fp32. ``smoke`` shrinks it to seconds per trial, from random init (the tests' scale).
``rehearsal`` is ``paper`` exactly (backbone shapes, optimiser, precision policy, forked loader workers, evaluation
and checkpoint policy, S3 storage) shrunk only in steps and, through its staged manifests, in the number of images
read, so a paper-scale cell runs on a CPU in about a minute (pad_core/rehearsal.py stages its weights and data).
"""

from __future__ import annotations

from typing import Any

from pad_core.errors import ConfigError

TINY_MODEL = "pad-tiny-vit"

# How a paper-scale run executes (precision is hashed: a bf16 run is its own cell; the cadence is not). A ViT-B/16
# MMoE step takes ~0.05 s on an A100, so a 4,000-step cell runs ~3-4 min: a checkpoint at each of its 40
# evaluations (4.5 GB of state) would cost more than the training (docs/BENCHMARKS.md §9); every 2 minutes, a
# preemption loses at most 2 minutes.
PAPER_RUNTIME: dict[str, Any] = {"train.precision": "bf16", "train.checkpoint_minutes": 2.0}

SCALES: dict[str, dict[str, Any]] = {
    "paper": dict(PAPER_RUNTIME),
    "rehearsal": {
        **PAPER_RUNTIME,
        # Shrunk in steps only: two optimiser steps with an evaluation (and checkpoint) after each, so the
        # evaluation, best-weights and resume machinery of a 4,000-step run all run.
        "train.steps": 2,
        "train.eval_every": 1,
        # A checkpoint at every evaluation: two CPU steps fit inside the paper's 2-minute cadence, and the
        # rehearsal is there to run the checkpoint, best-weights and upload machinery, not to skip it.
        "train.checkpoint_minutes": 0.0,
        # Forked loader workers as at paper scale (8 per GPU there); 2 here because the machine has 2 cores.
        "data.num_workers": 2,
    },
    "demo": {
        "backbone.name": TINY_MODEL,
        "backbone.pretrained": "",
        # Fine-tuned from the demo backbone (scripts/demo.sh passes --pretrained, the file `python -m pad_core
        # pretrain` builds), so both towers train as in the papers. At lr 3e-4 (P1 test ACER, seed 0, frozen ->
        # trained text) clip 35.8 -> 31.6%, rate1 31.9 -> 36.6%: no consistent cost, and trained prompts move apart
        # (prototype cosine 0.97 -> 0.80-0.90; bench/demo_finetune_lr.py). From random init, trainable
        # "fake"/"live" prototypes collapse to cosine 1.0 within ~50 steps: a random-init demo needs
        # --set backbone.train_text=false --set optim.lr=1e-3 (the old regime).
        "backbone.train_text": True,
        "moe.soft.slots_per_expert": 16,  # 65 tokens // 4 experts, the lucidrains rule at this size
        # A fine-tuning lr for a 4M-parameter CLIP over 160 steps (the papers: 1e-6 for ViT-B/16 over 4,000):
        # P1 test ACER of the clip row 38.9/34.9/31.6/43.9% at 3e-5/1e-4/3e-4/1e-3, rate1 46.6/43.0/36.6% at
        # 3e-5/1e-4/3e-4; 1e-3 overwrites the pretrained features (bench/demo_finetune_lr.py).
        "optim.lr": 3e-4,
        "optim.weight_decay": 1e-4,
        "optim.warmup_steps": 10,
        "optim.schedule": "cosine",
        "train.precision": "fp32",  # CPU scale: the papers' GPU precision policy is the paper/rehearsal scales'
        "atr.image_size": 64,  # ATR-FAS at the synthetic frame size: 16x16 depth maps, three U-Net levels
        "atr.width": 16,
        "atr.levels": 3,
        "train.steps": 160,
        "train.eval_every": 40,
        # A checkpoint at every evaluation (the default 0): writing one at the end only saved 0.1 s of a 52 s cell
        # (docs/BENCHMARKS.md §10), and a demo cell stopped mid-fit then resumes from its last evaluation.
        "data.batch_size": 32,
        "data.num_workers": 0,
    },
    "smoke": {
        "backbone.name": TINY_MODEL,
        "backbone.pretrained": "",
        "backbone.train_text": False,
        "moe.soft.slots_per_expert": 16,
        "optim.lr": 1e-3,
        "train.precision": "fp32",
        "atr.image_size": 32,
        "atr.width": 8,
        "atr.levels": 2,
        "train.steps": 6,
        "train.eval_every": 3,
        "data.batch_size": 16,
        "data.synth_scale": 0.01,
        "data.synth_size": 32,
        "eval.batch_size": 64,
        "data.num_workers": 0,
    },
}


# Torchvision baselines at the CPU scales start from random init too: a CPU box has no ImageNet file to read (the
# paper scales read torchvision's cache, backbone.imagenet_weights="torchvision", the default). Kept out of SCALES and
# applied only to configs on a torchvision backbone (pad_core.integrations.cli_overrides.row_weights), so that CLIP
# configs keep their hashes.
TORCHVISION_SCALES: dict[str, dict[str, Any]] = {
    "demo": {"backbone.imagenet_weights": ""},
    "smoke": {"backbone.imagenet_weights": ""},
}


def torchvision_scale_overrides(name: str) -> dict[str, Any]:
    return dict(TORCHVISION_SCALES.get(name, {}))


PAPER_SCALES = ("paper", "rehearsal")  # scales that run the papers' settings (seeds, search ranges, weights)


def is_paper_scale(name: str) -> bool:
    return name in PAPER_SCALES


def scale_overrides(name: str) -> dict[str, Any]:
    if name not in SCALES:
        raise ConfigError("scale", name, "unknown run scale", f"use one of {sorted(SCALES)}")
    return dict(SCALES[name])
