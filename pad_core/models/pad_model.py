"""Models returning :class:`PADOut`: CLIP with injected MoE layers and a head, or a torchvision classifier."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import nn

from pad_core.models.backbones import encode_image_with_cls
from pad_core.models.heads import Features
from pad_core.models.moe.placement import _MoEWrapper


@dataclass
class PADOut:
    """``logits`` b 2 (index 1 = bona fide); ``embed`` b k image embedding; ``cls`` b w pre-projection token;
    ``prototypes`` 2 k text prototypes (prompt head); ``aux`` loss terms averaged over the MoE layers
    (unweighted); ``stats`` detached diagnostics averaged over layers; ``routing`` per visual MoE layer, the
    per-sample expert shares (b e)."""

    logits: torch.Tensor
    embed: torch.Tensor
    cls: torch.Tensor
    prototypes: torch.Tensor | None = None
    logit_scale: torch.Tensor | None = None
    aux: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)
    routing: dict[str, torch.Tensor] = field(default_factory=dict)

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
    return ({k: torch.stack(v).mean() for k, v in aux.items()},
            {k: torch.stack([torch.as_tensor(x) for x in v]).float().mean() for k, v in stats.items()})


def text_token_mask(tokens: torch.Tensor) -> torch.Tensor:
    """True up to and including EOT (open_clip's EOT has the largest token id); padding after it is False."""
    eot = tokens.argmax(dim=-1, keepdim=True)
    return torch.arange(tokens.shape[-1], device=tokens.device)[None, :] <= eot


class PADModel(nn.Module):
    def __init__(self, clip: nn.Module, head: nn.Module, wrappers: dict[str, list[_MoEWrapper]],
                 mask_text_padding: bool = True) -> None:
        super().__init__()
        self.clip, self.head = clip, head
        self.visual_moe = wrappers.get("visual", [])  # plain lists: the modules are registered inside clip
        self.text_moe = wrappers.get("text", [])
        self.mask_text_padding = mask_text_padding

    @contextlib.contextmanager
    def _text_masks(self):
        tokens = getattr(self.head, "tokens", None)
        active = self.mask_text_padding and tokens is not None and self.text_moe
        for w in self.text_moe if active else []:
            w.moe.token_mask = text_token_mask(tokens)
        try:
            yield
        finally:
            for w in self.text_moe:
                w.moe.token_mask = None

    def forward(self, images: torch.Tensor) -> PADOut:
        embed, cls = encode_image_with_cls(self.clip.visual, images)
        visual_outs = [(w.name, w.pop_last()) for w in self.visual_moe]
        with self._text_masks():
            head_out = self.head(Features(embed, cls), self.clip)
        outs = [o for _, o in visual_outs] + [w.pop_last() for w in self.text_moe]
        aux, stats = mean_over_layers([o for o in outs if o is not None])
        routing = {name: o.routing for name, o in visual_outs if o is not None and o.routing is not None}
        return PADOut(logits=head_out.logits, embed=embed, cls=cls, prototypes=head_out.prototypes,
                      logit_scale=self.clip.logit_scale, aux=aux, stats=stats, routing=routing)


class ClassifierModel(nn.Module):
    """A headless torchvision network + a head on its pooled feature (ResNet50 / ViT-B/16 baselines)."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, images: torch.Tensor) -> PADOut:
        feats = self.backbone(images)
        return PADOut(logits=self.head(Features(feats, feats), None).logits, embed=feats, cls=feats)
