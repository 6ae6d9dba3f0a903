"""Total loss = head loss + sum_k w_k * aux_k + batch losses (class regularisation, metric losses).

Aux terms arrive unweighted from the MoE layers (vmoe style); every weight lives in :class:`LossCfg`
under the names in ``AUX_WEIGHTS``. Every term is returned, unweighted, for logging.

Under DDP the batch-level losses (``clip_symmetric``, DM/CDM, metric losses) see the *global* batch: their
inputs are all-gathered with gradient (pad_core/engine/distributed.py, which also derives the gradient
scale), so W ranks optimise the same objective as one worker on the whole batch. Per-sample means (``ce2``,
the ATR-FAS depth and gate CE, MoE aux terms that are token means) stay per rank: with equal shards, DDP's
mean of per-rank means is the global mean.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from pad_core.config.schema import LossCfg
from pad_core.data.dataset import label_of
from pad_core.losses.class_reg import cdm_loss, dm_loss
from pad_core.losses.metric import METRIC_LOSSES
from pad_core.models.pad_model import PADOut
from pad_core.registry import Registry

CLS_LOSSES: Registry = Registry("head loss")

# aux term produced by a layer -> LossCfg field holding its weight
AUX_WEIGHTS = {"moe_cosine": "moe_cosine_w", "router_z": "router_z_w", "balance": "balance_w"}


@CLS_LOSSES.register("ce2")
def ce2(out: PADOut, labels: torch.Tensor) -> torch.Tensor:
    """2-way cross-entropy over the head's logits (FLIP code; METHODS.md §1.2 option A).

    A per-sample mean: stays per rank under DDP (equal shards: the mean over ranks is the global mean)."""
    return F.cross_entropy(out.logits.float(), labels)


@CLS_LOSSES.register("clip_symmetric")
def clip_symmetric(out: PADOut, labels: torch.Tensor) -> torch.Tensor:
    """The papers' symmetric CLIP loss (MMoE Eq.5): S_ij = scale * <f_i, T_{y_j}>, CE over rows and columns.

    With two prompts, samples of the same class count as negatives of each other (METHODS.md §1.2).
    """
    dist = _distributed()
    image = F.normalize(dist.gather_with_grad(out.embed.float()), dim=-1)  # the global batch under DDP
    labels = dist.gather(labels)
    sims = out.logit_scale.exp() * image @ out.prototypes.float()[labels].T  # b b
    target = torch.arange(len(labels), device=labels.device)
    return 0.5 * (F.cross_entropy(sims, target) + F.cross_entropy(sims.T, target))


def _distributed():
    """pad_core.engine.distributed, imported at call time: the engine package imports this module."""
    from pad_core.engine import distributed

    return distributed


def features(out: PADOut, which: str) -> torch.Tensor:
    """The features class regularisation and metric losses act on (METHODS.md §4(f).5)."""
    chosen = {"embed_unnorm": out.embed, "embed_norm": F.normalize(out.embed, dim=-1), "cls": out.cls}[which]
    return chosen.float()


def batch_losses(out: PADOut, labels: torch.Tensor, cfg: LossCfg) -> dict[str, tuple[torch.Tensor, float]]:
    """{term: (unweighted value, weight)} of the terms ``cfg.batch_terms()`` names (LossCfg says which exist); a
    batch without both classes skips them and says so."""
    weights = {term: getattr(cfg, field) for term, field in cfg.batch_terms().items()}
    if not weights:
        return {}
    dist = _distributed()
    labels = dist.gather(labels)  # global: every rank takes the same branch and calls the same collectives
    x = dist.gather_with_grad(features(out, cfg.feature))
    # A skipped term is 0 but still reads x: a parameter reached only through these losses (FLIP-V's projection)
    # gets a zero gradient instead of none, so DDP runs without find_unused_parameters' per-step graph walk.
    zero = 0.0 * x.sum()
    both = bool((labels == 0).any() and (labels == 1).any())
    terms = {"skipped_one_class": (zero + (0.0 if both else 1.0), 0.0)}
    for term, weight in weights.items():
        terms[term] = (_batch_term(term, x, labels, cfg) if both else zero, weight)
    return terms


def _batch_term(term: str, x: torch.Tensor, labels: torch.Tensor, cfg: LossCfg) -> torch.Tensor:
    """One term of :meth:`LossCfg.batch_terms`, unweighted, on features of both classes."""
    if term == "dm":
        return dm_loss(x, labels, cfg.cr_t, cfg.cr_mode)
    if term == "cdm":
        return cdm_loss(x, labels, cfg.cr_mode)
    return METRIC_LOSSES.get(term.removeprefix("metric_"))(x, labels, temperature=cfg.metric_temperature,
                                                           margin=cfg.metric_margin)


def target_losses(out: PADOut, targets, cfg: LossCfg) -> dict[str, tuple[torch.Tensor, float]]:
    """Terms against targets beyond the label: ATR-FAS's depth and attack-type gate losses (lambda_d, lambda_g)."""
    if getattr(out, "depth_logits", None) is None:
        return {}
    from pad_core.losses.atr import atr_terms  # only ATR-FAS outputs carry depth logits

    return {name: (value, getattr(cfg, f"{name}_w")) for name, value in atr_terms(out, targets).items()}


def total_loss(out: PADOut, targets, head_loss: str, cfg: LossCfg) -> tuple[torch.Tensor, dict]:
    """(weighted total, {term: unweighted value}) for one batch; ``targets`` = labels, or a dict with ``label``."""
    labels = label_of(targets)
    terms = {"cls": CLS_LOSSES.get(head_loss)(out, labels)}
    total = cfg.cls_w * terms["cls"]
    weighted = [(name, value, getattr(cfg, AUX_WEIGHTS[name])) for name, value in out.aux.items()]
    weighted += [(name, value, w) for name, (value, w) in batch_losses(out, labels, cfg).items()]
    weighted += [(name, value, w) for name, (value, w) in target_losses(out, targets, cfg).items()]
    for name, value, weight in weighted:
        terms[name] = value
        if weight:
            total = total + weight * value
    terms["loss"] = total
    return total, terms
