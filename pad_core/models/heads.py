"""Classifier heads. Each maps image features (and, for prompts, the text tower) to 2-way logits
(index 1 = bona fide). Chosen by ``head.kind`` from the HEADS registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from pad_core.models.moe.fp32 import FP32Linear, fp32_region
from pad_core.registry import Registry

HEADS: Registry[type[nn.Module]] = Registry("head")


@dataclass
class Features:
    """``embed`` b k: the image embedding (CLIP: after the projection); ``cls`` b w: the pre-projection
    pooled token (CLIP ViT: the 768-d CLS at ViT-B/16; torchvision nets: the pooled feature)."""

    embed: torch.Tensor
    cls: torch.Tensor


@dataclass
class HeadOut:
    logits: torch.Tensor
    prototypes: torch.Tensor | None = None  # c k text prototypes (prompt head)


@HEADS.register("prompt")
class PromptHead(nn.Module):
    """logits = exp(logit_scale) * normalize(f) @ T^T with T_c = normalize(mean_t text(prompt_{c,t})).

    Prompt embeddings are averaged before normalising (FLIP-IT). Token ids are a buffer; the text tower
    belongs to the CLIP model, which is passed in. Legend: b batch, c classes, k embedding width.
    """

    def __init__(self, *, tokens: torch.Tensor, counts: tuple[int, int], **_) -> None:
        super().__init__()
        self.register_buffer("tokens", tokens, persistent=False)  # (attack prompts, then live prompts) context
        self.counts = counts

    def prototypes(self, encode_text) -> torch.Tensor:
        text = encode_text(self.tokens)
        return F.normalize(torch.stack([part.mean(dim=0) for part in text.split(list(self.counts))]), dim=-1)

    def forward(self, feats: Features, clip: nn.Module) -> HeadOut:
        protos = self.prototypes(clip.encode_text)
        return HeadOut(cosine_logits(feats.embed, protos, clip.logit_scale), protos)


@HEADS.register("linear")
class LinearHead(nn.Module):
    """A linear 2-way classifier on the image embedding (the ResNet50 / ViT-B/16 rows of the papers)."""

    def __init__(self, *, embed_dim: int, **_) -> None:
        super().__init__()
        self.fc = FP32Linear(embed_dim, 2)

    def forward(self, feats: Features, clip: nn.Module | None) -> HeadOut:
        return HeadOut(self.fc(feats.embed))


@HEADS.register("flip_v")
class FlipVHead(nn.Module):
    """FLIP-V (koushiksrivats/FLIP fas.py): CLS -> Linear(w, 512) -> ReLU -> Dropout(0.5) -> x / (sqrt(|x|) sqrt 2)
    -> Linear(512, 2) whose weight columns are L2-normalised over the two classes (FLIP's ``l2_norm(axis=0)``).

    FLIP renormalises the stored weight in place each forward; here the normalisation is applied in the
    forward pass (same outputs; gradients also flow through the normalisation).
    """

    def __init__(self, *, cls_dim: int, bottleneck: int = 512, **_) -> None:
        super().__init__()
        self.fc = nn.Linear(cls_dim, bottleneck)
        nn.init.normal_(self.fc.weight, 0.0, 0.005)
        nn.init.constant_(self.fc.bias, 0.1)
        self.drop = nn.Dropout(0.5)
        self.classifier = nn.Linear(bottleneck, 2)
        nn.init.normal_(self.classifier.weight, 0.0, 0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, feats: Features, clip: nn.Module | None) -> HeadOut:
        x = self.drop(F.relu(self.fc(feats.cls)))
        x = x / (x.norm(dim=1, keepdim=True).clamp_min(1e-12).sqrt() * 2**0.5)
        return HeadOut(normalized_linear(x, self.classifier.weight, self.classifier.bias))


# The head's last step runs in float32 whatever the autocast: its logits are the PAD score (see FP32Linear).
@fp32_region
def cosine_logits(embed: torch.Tensor, prototypes: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    return logit_scale.exp() * F.normalize(embed, dim=-1) @ prototypes.T


@fp32_region
def normalized_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.linear(x, F.normalize(weight, dim=0), bias)


def prompt_texts(templates: tuple[str, ...], class_words: tuple[str, ...],
                 attack_prompts: tuple[str, ...] = (), live_prompts: tuple[str, ...] = ()) -> tuple[list[str], tuple]:
    """(prompts, per-class counts): explicit per-class sentences if given, else every template per class word."""
    if attack_prompts:
        return [*attack_prompts, *live_prompts], (len(attack_prompts), len(live_prompts))
    return [t.format(word) for word in class_words for t in templates], (len(templates), len(templates))
