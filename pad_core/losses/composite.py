"""Total loss = head loss + sum_k w_k * aux_k. Aux terms arrive unweighted from the model (vmoe style);
their weights live in :class:`LossCfg` under the names in ``AUX_WEIGHTS``. Every term is returned for logging.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from pad_core.config.schema import LossCfg
from pad_core.models.pad_model import PADOut
from pad_core.registry import Registry

CLS_LOSSES: Registry = Registry("head loss")

# aux term produced by a layer -> LossCfg field holding its weight
AUX_WEIGHTS = {"moe_cosine": "moe_cosine_w"}


@CLS_LOSSES.register("ce2")
def ce2(out: PADOut, labels: torch.Tensor) -> torch.Tensor:
    """2-way cross-entropy over the prompt logits (FLIP code; methods.md §1.2 option A)."""
    return F.cross_entropy(out.logits.float(), labels)


@CLS_LOSSES.register("clip_symmetric")
def clip_symmetric(out: PADOut, labels: torch.Tensor) -> torch.Tensor:
    """The papers' symmetric CLIP loss (MMoE Eq.5): S_ij = scale * <f_i, T_{y_j}>, CE over rows and columns.

    With two prompts, samples of the same class count as negatives of each other (methods.md §1.2).
    """
    image = F.normalize(out.embed.float(), dim=-1)
    sims = out.logit_scale.exp() * image @ out.prototypes.float()[labels].T  # b b
    target = torch.arange(len(labels), device=labels.device)
    return 0.5 * (F.cross_entropy(sims, target) + F.cross_entropy(sims.T, target))


def total_loss(out: PADOut, labels: torch.Tensor, head_loss: str, cfg: LossCfg) -> tuple[torch.Tensor, dict]:
    """(weighted total, {term: unweighted value}) for one batch."""
    terms = {"cls": CLS_LOSSES.get(head_loss)(out, labels)}
    total = terms["cls"]
    for name, value in out.aux.items():
        weight = getattr(cfg, AUX_WEIGHTS[name])
        terms[name] = value
        if weight:
            total = total + weight * value
    terms["loss"] = total
    return total, terms
