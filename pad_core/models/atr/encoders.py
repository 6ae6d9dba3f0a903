"""Frame encoders feeding the depth experts: the paper's CNN stem, or CLIP patch tokens (METHODS.md §5(a).6, §5(b)).

Each returns :class:`EncOut`: the expert input X0 (f width s s) and what the type gate of the same name in
``gates.TYPE_GATES`` reads (the raw frames for the CNN gate, the CLS token for the CLIP one).

Legend: f frames flattened into the batch, c channels, S frame side, s = S / 4 depth side, g patch grid, d width.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F

from pad_core.config.schema import RunCfg
from pad_core.models.atr.layers import ConvNormAct, DownConvNormAct
from pad_core.models.backbones.clip import backbone_info, create_clip
from pad_core.registry import Registry

ENCODERS: Registry = Registry("atr encoder")


class EncOut(NamedTuple):
    feats: torch.Tensor  # f width s s: X0, the experts' input
    gate_input: torch.Tensor  # what the type gate reads: f 3 S S (cnn) or f d (clip CLS)


@ENCODERS.register("cnn")
class CNNEncoder(nn.Module):
    """Two stride-2 convs (3 -> width/2 -> width) plus a learnable position embedding P (width s s, randn)."""

    def __init__(self, cfg: RunCfg) -> None:
        super().__init__()
        a = cfg.atr
        self.stem = nn.Sequential(DownConvNormAct(3, a.width // 2), DownConvNormAct(a.width // 2, a.width))
        self.pos = nn.Parameter(torch.randn(1, a.width, a.image_size // 4, a.image_size // 4))
        self.gate_dim = 3

    def forward(self, frames: torch.Tensor) -> EncOut:
        return EncOut(self.stem(frames) + self.pos, frames)


@ENCODERS.register("clip")
class CLIPEncoder(nn.Module):
    """CLIP adaptation (ours, METHODS.md §5(b)): per frame, the visual tower's patch tokens after ``ln_post``
    (CLS dropped) as a g x g map -> 1x1 conv to width -> bilinear upsampling to s x s -> 3x3 conv + BN + ReLU.

    The CLS token (after ``ln_post``, before ``proj``) feeds the type gate. The text tower, ``logit_scale``
    and the visual ``proj`` are never used here, so they are frozen (no optimiser state, no dead gradients).
    Frames are resized to the backbone's input side when ``atr.image_size`` differs from it. §5(b) sketches
    light conv upsamplers as the expert decoders; here the tokens replace only the stem and the ResUNet experts,
    gates and classifier stay, so ``atr.encoder`` is a one-component ablation.
    """

    def __init__(self, cfg: RunCfg) -> None:
        super().__init__()
        info = backbone_info(cfg.backbone.name)
        self.clip = create_clip(cfg.backbone)
        for name, p in self.clip.named_parameters():
            if not name.startswith("visual.") or name == "visual.proj":
                p.requires_grad_(False)
        self.input_side, self.grid = info.image_size, info.image_size // info.patch_size
        self.depth_side = cfg.atr.image_size // 4
        self.reduce = nn.Conv2d(info.visual_width, cfg.atr.width, kernel_size=1)
        self.refine = ConvNormAct(cfg.atr.width, cfg.atr.width)
        self.gate_dim = info.visual_width

    def tokens(self, frames: torch.Tensor) -> torch.Tensor:
        """f 3 S S -> f (1 + g*g) d; mirrors open_clip 3.3 ``VisionTransformer`` up to ``ln_post`` (no attn pool)."""
        if frames.shape[-1] != self.input_side:
            frames = F.interpolate(frames, size=(self.input_side,) * 2, mode="bilinear", align_corners=False)
        visual = self.clip.visual
        return visual.ln_post(visual.transformer(visual._embeds(frames)))

    def forward(self, frames: torch.Tensor) -> EncOut:
        tokens = self.tokens(frames)
        grid = rearrange(tokens[:, 1:], "f (h w) d -> f d h w", h=self.grid)
        up = F.interpolate(self.reduce(grid), size=(self.depth_side,) * 2, mode="bilinear", align_corners=False)
        return EncOut(self.refine(up), tokens[:, 0])
