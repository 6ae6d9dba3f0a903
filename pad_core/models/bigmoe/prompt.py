"""BIG-MoE prompt generation P_0 (METHODS.md §3(a), "Prompt generation" in the figure).

P_d = QuickGELU(CDC_{3m->3}(concat of the m modality images)) carries the images' local differences;
P_m = bank[missing code] is a learnt image-sized prompt per missing-modality pattern (2^m entries, zero init);
P_s is one shared learnt prompt (zero init, "P_t" in the figure). A patch-sized conv turns concat(P_d, P_m, P_s)
into one prompt token per patch position.

Legend: b batch, m modalities, k image channels (3), h/w image height/width, g grid side, c prompt_dim.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from pad_core.models.bigmoe.cdc import CDConv2d
from pad_core.models.moe.experts import QuickGELU


class PromptGenerator(nn.Module):
    """``(images b m k h w, missing code b) -> P_0 b (g g) c``."""

    def __init__(self, *, image_size: int, patch: int, prompt_dim: int, theta: float, modalities: int = 3) -> None:
        super().__init__()
        self.diff = CDConv2d(3 * modalities, 3, theta=theta)
        self.bank = nn.Parameter(torch.zeros(2**modalities, 3, image_size, image_size))
        self.shared = nn.Parameter(torch.zeros(3, image_size, image_size))
        self.patchify = nn.Conv2d(9, prompt_dim, kernel_size=patch, stride=patch)
        self.act = QuickGELU()

    def forward(self, images: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
        p_d = self.act(self.diff(rearrange(images, "b m k h w -> b (m k) h w")))
        p_s = repeat(self.shared, "k h w -> b k h w", b=images.shape[0])
        tokens = self.patchify(torch.cat([p_d, self.bank[missing], p_s], dim=1))
        return rearrange(tokens, "b c x y -> b (x y) c")


class NoPrompt(nn.Module):
    """No prompt path (``gate_input=expert``): nothing would read the prompts, so none are made."""

    def forward(self, images: torch.Tensor, missing: torch.Tensor) -> None:
        return None
