"""Named override sets that move a config between run scales.

``paper`` is the dataclass defaults (ViT-B/16 with OpenAI weights, the papers' schedule) run the way a GPU cluster
runs it: bf16 autocast with fp32 router regions (docs/DESIGN.md, "Precision"). Sweeps apply a
scale over their paper base (a benchmark's data settings, a method's hyperparameters): the scale wins where
both set a key, and command-line flags win over both.
``demo`` is the CPU scale the README's first command and the tests use: a 4M-parameter CLIP
registered by pad_core, random init (no weights can be downloaded), the synthetic benchmark, fp32, and a
learning rate suited to training from scratch. ``smoke`` shrinks ``demo`` to seconds per trial.
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
        # From random init, trainable text prototypes of "fake"/"live" collapse to cosine 1.0 within ~50
        # steps (equal logits minimise the loss while image features are still random) and never recover;
        # frozen random prototypes stay apart. Pretrained CLIP has no such problem (paper scale trains both).
        "backbone.train_text": False,
        "moe.soft.slots_per_expert": 16,  # 65 tokens // 4 experts, the lucidrains rule at this size
        "optim.lr": 1e-3,
        "optim.weight_decay": 1e-4,
        "optim.warmup_steps": 10,
        "optim.schedule": "cosine",
        "train.precision": "fp32",  # CPU scale: the papers' GPU precision policy is the paper/rehearsal scales'
        "atr.image_size": 64,  # ATR-FAS at the synthetic frame size: 16x16 depth maps, three U-Net levels
        "atr.width": 16,
        "atr.levels": 3,
        "train.steps": 160,
        "train.eval_every": 40,
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


PAPER_SCALES = ("paper", "rehearsal")  # scales that run the papers' settings (seeds, search ranges, weights)


def is_paper_scale(name: str) -> bool:
    return name in PAPER_SCALES


def scale_overrides(name: str) -> dict[str, Any]:
    if name not in SCALES:
        raise ConfigError("scale", name, "unknown run scale", f"use one of {sorted(SCALES)}")
    return dict(SCALES[name])
