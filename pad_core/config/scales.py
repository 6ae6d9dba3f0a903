"""Named override sets that move a config between run scales.

``paper`` is the dataclass defaults (ViT-B/16 with OpenAI weights, the papers' schedule). Sweeps apply a
scale over their paper base (a benchmark's data settings, a method's hyperparameters): the scale wins where
both set a key, and command-line flags win over both.
``demo`` is the CPU scale the README's first command and the tests use: a 4M-parameter CLIP
registered by pad_core, random init (no weights can be downloaded), the synthetic benchmark, and a
learning rate suited to training from scratch. ``smoke`` shrinks ``demo`` to seconds per trial.
"""

from __future__ import annotations

from typing import Any

from pad_core.errors import ConfigError

TINY_MODEL = "pad-tiny-vit"

SCALES: dict[str, dict[str, Any]] = {
    "paper": {},
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


def scale_overrides(name: str) -> dict[str, Any]:
    if name not in SCALES:
        raise ConfigError("scale", name, "unknown run scale", f"use one of {sorted(SCALES)}")
    return dict(SCALES[name])
