"""What a pretraining run computes, and the key its weights file is cached under."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import open_clip

from pad_core.config.scales import TINY_MODEL
from pad_core.data.synthetic import captions
from pad_core.errors import ConfigError
from pad_core.models.backbones import clip as _clip  # noqa: F401  (registers pad-tiny-vit with open_clip)

KEY_LEN = 16


@dataclass(frozen=True)
class PretrainSpec:
    """A CLIP-style image-text contrastive run on the captioned-shapes corpus (pad_core/data/synthetic/captions.py).

    Every field changes the weights, so every field is in the key, with the corpus generator's version and the
    model's architecture (its open_clip config): a changed generator or architecture is a new file.
    """

    model: str = TINY_MODEL
    steps: int = 200
    batch_size: int = 128  # pairs per step: the in-batch negatives of the contrastive loss
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 20
    seed: int = 0
    corpus_version: int = captions.GENERATOR_VERSION

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError("pretrain.steps", self.steps, "must be >= 1", "use e.g. 200 (the demo's)")
        if self.batch_size < 2:
            raise ConfigError("pretrain.batch_size", self.batch_size, "a contrastive batch needs >= 2 pairs",
                              "use e.g. 128")
        if not self.lr > 0:
            raise ConfigError("pretrain.lr", self.lr, "must be > 0", "use e.g. 1e-3")
        if self.warmup_steps < 0 or self.weight_decay < 0:
            raise ConfigError("pretrain.warmup_steps/weight_decay", (self.warmup_steps, self.weight_decay),
                              "negative", "use >= 0")
        if open_clip.get_model_config(self.model) is None:
            raise ConfigError("pretrain.model", self.model, "unknown open_clip model", f"use {TINY_MODEL}")

    def key(self) -> str:
        """Hash of the whole config, the model's architecture included."""
        payload = {**asdict(self), "architecture": open_clip.get_model_config(self.model)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:KEY_LEN]


# The demo's backbone: 200 steps of 128 pairs, ~160 CPU-seconds (~0.5 s a step on 2 idle cores, so ~100 s; 286 s
# on one thread of a 2-core machine shared with 5 other jobs); held-out image->text top-1 0.86 in batches of 128
# (chance 0.008). The cached file's .json sidecar records the time, loss and retrieval of each build.
DEMO_PRETRAIN = PretrainSpec()
