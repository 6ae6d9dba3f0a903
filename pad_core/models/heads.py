"""Classifier heads over CLIP image embeddings. ``PromptHead``: text prompts as class prototypes (FLIP-IT)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pad_core.registry import Registry

HEADS: Registry[type[nn.Module]] = Registry("head")


@HEADS.register("prompt")
class PromptHead(nn.Module):
    """logits = exp(logit_scale) * normalize(f) @ T^T, T_c = normalize(mean_t normalize(text(template_t(c)))).

    Legend: b batch, c classes (0 attack, 1 bona fide), t templates, k embedding width.
    The token ids are a buffer; the text tower itself belongs to the CLIP model and is passed in.
    """

    def __init__(self, tokens: torch.Tensor, num_templates: int) -> None:
        super().__init__()
        self.register_buffer("tokens", tokens, persistent=False)  # (c t) context
        self.num_templates = num_templates

    def prototypes(self, encode_text) -> torch.Tensor:
        text = F.normalize(encode_text(self.tokens), dim=-1)
        text = text.view(-1, self.num_templates, text.shape[-1]).mean(dim=1)
        return F.normalize(text, dim=-1)  # c k

    def forward(self, image_embed: torch.Tensor, prototypes: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
        return logit_scale.exp() * F.normalize(image_embed, dim=-1) @ prototypes.T


def prompt_texts(templates: tuple[str, ...], class_words: tuple[str, ...]) -> list[str]:
    """Class-major list of prompts: every template for class 0, then for class 1."""
    return [t.format(word) for word in class_words for t in templates]
