"""The pretraining run: open_clip's CLIP trained with the symmetric image-text contrastive loss (CLIP, Radford et
al. 2021) on batches of the captioned-shapes corpus; both towers, the projections and ``logit_scale`` learn."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import open_clip
import torch
from torch.nn import functional as F

from pad_core.config.schema import OptimCfg
from pad_core.data.synthetic import captions
from pad_core.engine.optim import build_optimizer
from pad_core.models.backbones.clip import CLIP_MEAN, CLIP_STD, backbone_info, tokenize
from pad_core.models.backbones.weights import quiet_root_logger
from pad_core.pretrain.spec import PretrainSpec

HELD_OUT = 1 << 40  # pair indices from here on are never trained on: the retrieval check reads them
MAX_LOGIT_SCALE = float(np.log(100.0))  # CLIP's clamp of the learned temperature


@dataclass(frozen=True)
class PretrainResult:
    state: dict[str, torch.Tensor]  # the open_clip model's state dict
    seconds: float  # wall
    cpu_seconds: float  # this process's CPU time (all threads): what the run costs on a machine shared with others
    final_loss: float  # mean contrastive loss of the last 20 steps
    retrieval: float  # held-out image->text top-1 accuracy in batches of batch_size (chance: 1 / batch_size)


def batch(spec: PretrainSpec, start: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(normalised images b 3 s s, caption tokens) of pairs ``start .. start + size``."""
    side = backbone_info(spec.model).image_size
    pairs = [captions.pair(spec.seed, i, side) for i in range(start, start + size)]
    images = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (CLIP_MEAN, CLIP_STD))
    return (images - mean) / std, tokenize(spec.model, [p[1] for p in pairs])


def contrastive_loss(model, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(symmetric cross-entropy over the batch's image-text similarities, the logits)."""
    out = model(images, tokens)
    logits = out["logit_scale"] * out["image_features"] @ out["text_features"].T
    target = torch.arange(len(images))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2, logits


def build_model(spec: PretrainSpec):
    torch.manual_seed(spec.seed)
    with quiet_root_logger():
        return open_clip.create_model(spec.model, pretrained=None, output_dict=True, device="cpu")


def pretrain(spec: PretrainSpec, log=print) -> PretrainResult:
    model = build_model(spec)
    optim = OptimCfg(name="adamw", lr=spec.lr, weight_decay=spec.weight_decay, warmup_steps=spec.warmup_steps,
                     schedule="cosine", impl="foreach")
    optimizer, scheduler = build_optimizer(model, optim, spec.steps)
    started, cpu_started, losses = time.perf_counter(), time.process_time(), []
    model.train()
    for step in range(spec.steps):
        images, tokens = batch(spec, step * spec.batch_size, spec.batch_size)
        loss, _ = contrastive_loss(model, images, tokens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        losses.append(float(loss.detach()))
        if (step + 1) % max(1, spec.steps // 5) == 0:
            log(f"[padsweep] pretrain step {step + 1}/{spec.steps}: contrastive loss {np.mean(losses[-20:]):.3f} "
                f"({time.perf_counter() - started:.0f} s)")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return PretrainResult({k: v.detach().clone() for k, v in model.state_dict().items()}, seconds, cpu_seconds,
                          float(np.mean(losses[-20:])), retrieval(model, spec))


@torch.no_grad()
def retrieval(model, spec: PretrainSpec, batches: int = 2) -> float:
    """Held-out image->text top-1 accuracy within batches of ``spec.batch_size`` pairs."""
    model.eval()
    hits = total = 0
    for b in range(batches):
        images, tokens = batch(spec, HELD_OUT + b * spec.batch_size, spec.batch_size)
        _, logits = contrastive_loss(model, images, tokens)
        hits += int((logits.argmax(dim=1) == torch.arange(len(images))).sum())
        total += len(images)
    return hits / total
