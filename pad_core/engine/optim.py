"""Optimiser with decay / no-decay parameter groups and a warm-up + constant/cosine/exponential schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from pad_core.config.schema import OptimCfg


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Matrices decay; biases, norm gains, scalars and 1-D embeddings do not (timm convention)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


KERNELS = {"fused": {"fused": True}, "foreach": {"foreach": True}, "single": {"foreach": False}}


def build_optimizer(model: nn.Module, cfg: OptimCfg, total_steps: int):
    groups, kernel = param_groups(model, cfg.weight_decay), KERNELS[cfg.impl]
    if cfg.name == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.betas[0], **kernel)
    else:
        opt_cls = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
        opt = opt_cls(groups, lr=cfg.lr, betas=cfg.betas, **kernel)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg, total_steps))


def lr_factor(cfg: OptimCfg, total_steps: int):
    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        if cfg.schedule == "exponential":
            return cfg.decay_gamma ** ((step - cfg.warmup_steps) / cfg.decay_steps)
        progress = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor
