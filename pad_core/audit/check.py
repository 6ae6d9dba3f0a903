"""The dead-toggle audit: every ablation row (and every registered variant) is built next to its baseline.

A row fails when (1) it changes keys that its own config never reads (static), (2) its model equals the
baseline's in parameters, module graph, outputs and training loss on a fixed batch (the toggle changes
nothing), or (3) after two optimiser steps any enabled parameter still receives no gradient. Models are
built on the row's audit twin (same depths, tiny widths) so this runs in seconds before any trial.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pad_core.audit.inactive import inactive_keys
from pad_core.audit.twin import on_twin
from pad_core.config import RunCfg, diff
from pad_core.losses import total_loss
from pad_core.models import create_model
from pad_core.models.backbones import backbone_info

BATCH = 8


@dataclass(frozen=True)
class Finding:
    row: str
    problem: str

    def __str__(self) -> str:
        return f"{self.row}: {self.problem}"


@dataclass
class Probe:
    """What a model does on the fixed batch: its structure, outputs, loss and gradients."""

    params: dict[str, torch.Tensor]
    graph: list[tuple[str, str]]
    logits: torch.Tensor
    loss: torch.Tensor
    grads: dict[str, torch.Tensor]  # first-step gradients (toggles such as detach_ref change only these)
    dead: list[str]  # trainable parameters without a non-zero gradient after two steps


def fixed_batch(cfg: RunCfg) -> tuple:
    """(inputs, targets) of the model family, from a fixed generator: both classes, every attack type."""
    gen, labels = torch.Generator().manual_seed(0), torch.arange(BATCH) % 2
    if cfg.family == "atr":
        side, n = cfg.atr.image_size, cfg.atr.num_frames
        frames = torch.randn(BATCH, n, 3, side, side, generator=gen)
        depth = torch.randint(cfg.atr.depth_bins, (BATCH, side // 4, side // 4), generator=gen)
        attack = torch.where(labels == 1, -1, torch.arange(BATCH) % 3)
        return {"frames": frames}, {"label": labels, "depth": depth, "attack_index": attack}
    size = backbone_info(cfg.backbone.name).image_size
    if cfg.family == "bigmoe":
        modalities = torch.randn(BATCH, 3, 3, size, size, generator=gen)
        return {"modalities": modalities, "missing": torch.arange(BATCH) % 8}, labels
    return torch.randn(BATCH, 3, size, size, generator=gen), labels


def probe(cfg: RunCfg) -> Probe:
    torch.manual_seed(0)
    model = create_model(cfg).train()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    graph = [(n, type(m).__name__) for n, m in model.named_modules()]
    inputs, targets = fixed_batch(cfg)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    first = None
    for _ in range(2):  # two steps: parameters behind zero-initialised layers get gradients on the second
        torch.manual_seed(1)
        out = model(inputs)
        loss, _ = total_loss(out, targets, cfg.head.loss, cfg.loss)
        opt.zero_grad()
        loss.backward()
        first = first or (out.logits.detach(), loss.detach(), _grads(model))
        opt.step()
    dead = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    return Probe(params, graph, *first, dead)


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def same_model(a: Probe, b: Probe) -> bool:
    return (_same_tensors(a.params, b.params) and a.graph == b.graph and torch.equal(a.logits, b.logits)
            and torch.equal(a.loss, b.loss) and _same_tensors(a.grads, b.grads))


def audit_row(name: str, cfg: RunCfg, baseline: RunCfg, base_probe: Probe | None = None) -> list[Finding]:
    changed = list(diff(baseline, cfg))
    if not changed:
        return [Finding(name, "is the same config as the baseline: it changes nothing")]
    findings = [Finding(name, f"changes {k}, which this config never reads") for k in inactive_keys(cfg, changed)]
    row_probe = probe(on_twin(cfg))
    model_keys = [k for k in changed if k.split(".")[0] in ("backbone", "moe", "head", "loss")]
    if model_keys and same_model(row_probe, base_probe or probe(on_twin(baseline))):
        findings.append(Finding(name, f"changing {model_keys} leaves the model, outputs, loss and gradients "
                                      "unchanged"))
    findings += [Finding(name, f"parameter {p} receives no gradient") for p in row_probe.dead]
    return findings
