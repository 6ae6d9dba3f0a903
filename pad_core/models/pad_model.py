"""PADModel: CLIP backbone + injected MoE layers + head -> :class:`PADOut`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import nn

from pad_core.models.moe.placement import _MoEWrapper


@dataclass
class PADOut:
    """``logits`` b 2 (index 1 = bona fide); ``embed`` b k un-normalised image embedding;
    ``prototypes`` 2 k class text prototypes; ``aux`` loss terms averaged over MoE layers (unweighted);
    ``stats`` detached routing diagnostics averaged over MoE layers."""

    logits: torch.Tensor
    embed: torch.Tensor
    prototypes: torch.Tensor
    logit_scale: torch.Tensor
    aux: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def live_score(self) -> torch.Tensor:
        """P(bona fide), the score thresholded as "live iff score >= tau"."""
        return self.logits.float().softmax(dim=-1)[:, 1]


def mean_over_layers(outs: list) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Average each aux term and stat over the MoE layers that produced it (MMoE Eq.4: 1/12 sum_k)."""
    aux, stats = defaultdict(list), defaultdict(list)
    for out in outs:
        for k, v in out.aux.items():
            aux[k].append(v)
        for k, v in out.stats.items():
            stats[k].append(v)
    return ({k: torch.stack(v).mean() for k, v in aux.items()}, {k: torch.stack(v).mean() for k, v in stats.items()})


class PADModel(nn.Module):
    def __init__(self, clip: nn.Module, head: nn.Module, moe_wrappers: list[_MoEWrapper]) -> None:
        super().__init__()
        self.clip = clip
        self.head = head
        self.moe_wrappers = moe_wrappers  # plain list: the modules are already registered inside clip

    def forward(self, images: torch.Tensor) -> PADOut:
        embed = self.clip.encode_image(images)
        prototypes = self.head.prototypes(self.clip.encode_text)
        logits = self.head(embed, prototypes, self.clip.logit_scale)
        outs = [o for o in (w.pop_last() for w in self.moe_wrappers) if o is not None]
        aux, stats = mean_over_layers(outs)
        return PADOut(logits=logits, embed=embed, prototypes=prototypes, logit_scale=self.clip.logit_scale,
                      aux=aux, stats=stats)
