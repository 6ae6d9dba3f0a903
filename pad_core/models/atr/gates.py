"""ATR-FAS gates: the attack-type gate G_g that weights the depth experts, and the attention gate G_a that
fuses the per-frame depth maps (METHODS.md §5(a).5, §5(a).9-10).

Legend: b samples, n frames, f = b*n frames flattened into the batch, m experts, K bins, s depth side.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from pad_core.models.atr.layers import DownConvNormAct, expected_value
from pad_core.models.atr.unet import EasyResUNet
from pad_core.models.config_layer import TwoWay
from pad_core.registry import Registry

TYPE_GATES: Registry[type[nn.Module]] = Registry("atr type gate")  # keyed by the encoder whose ``gate_input`` it reads
GATE_HIDDEN = 32  # the released gate's Linear(64 -> 32 -> 3)


@TYPE_GATES.register("cnn")
class CNNTypeGate(nn.Sequential):
    """Its own small CNN on each frame: three stride-2 convs (the third 7x7, as in the code, where the paper
    says 3x3), global average pool, Linear -> 32 -> m with no activation between (code): f 3 S S -> f m."""

    def __init__(self, in_dim: int, *, width: int, experts: int) -> None:
        super().__init__(DownConvNormAct(in_dim, width // 2), DownConvNormAct(width // 2, width),
                         DownConvNormAct(width, width, kernel=7), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, GATE_HIDDEN), nn.Linear(GATE_HIDDEN, experts))


@TYPE_GATES.register("clip")
class TokenTypeGate(nn.Sequential):
    """CLIP adaptation (METHODS.md §5(b), ours): an MLP on each frame's CLS token: f d -> f m."""

    def __init__(self, in_dim: int, *, width: int, experts: int) -> None:
        super().__init__(nn.Linear(in_dim, GATE_HIDDEN), nn.GELU(), nn.Linear(GATE_HIDDEN, experts))


class AttentionFusion(nn.Module):
    """G_a: stem (3 -> width/4 -> width/2, two stride-2 convs) + EasyResUNet -> K-bin expectation per pixel
    -> softmax across the n frames -> X_hat = sum_n A_n * X'_n.

    With n = 1 the softmax is 1 everywhere and this reduces to the single frame (METHODS.md §5(b)).
    """

    def __init__(self, *, width: int, depth_bins: int) -> None:
        super().__init__()
        half, quarter = max(width // 2, 1), max(width // 4, 1)
        self.stem = nn.Sequential(DownConvNormAct(3, quarter), DownConvNormAct(quarter, half))
        self.unet = EasyResUNet(half, width=half, out_ch=depth_bins)

    def weights(self, frames: torch.Tensor) -> torch.Tensor:
        """b n 3 S S -> b n 1 s s, summing to 1 over n at every pixel."""
        score = expected_value(self.unet(self.stem(frames.flatten(0, 1))))
        return rearrange(score, "(b n) 1 h w -> b n 1 h w", b=frames.shape[0]).softmax(dim=1)

    def forward(self, frames: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """``frames`` b n 3 S S, ``depth`` b n 1 s s -> b 1 s s."""
        return torch.einsum("bnchw,bnchw->bchw", self.weights(frames), depth)


class MeanFusion(nn.Module):
    """No attention gate: the per-frame depth maps are averaged (ATR-FAS Table 3 rows without ATT)."""

    def __init__(self, *, width: int, depth_bins: int) -> None:
        super().__init__()

    def forward(self, frames: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        return depth.mean(dim=1)


FRAME_FUSION = TwoWay(AttentionFusion, MeanFusion)  # atr.frame_attention: the attention gate G_a, or the mean
