"""ATR-FAS: attack-type-robust mobile face anti-spoofing under screen flash (METHODS.md §5).

Pipeline per sample: n differentially normalised flash frames -> frames flattened into the batch ->
encoder (CNN stem + position embedding, or CLIP tokens) -> m ResUNet depth experts -> mixed k-bin logits ->
per-pixel softmax -> expected depth per frame X' -> frame fusion (attention gate or mean) -> X_hat ->
classifier on X_hat. The depth loss supervises every frame's logits, the gate loss the type gate
(``pad_core.losses.atr``); the code-only flash-colour head ``r_net`` is left out (METHODS.md §5(f).4).

Legend: b samples, n frames, f = b*n, m experts, k depth bins, S frame side, s = S / 4 depth side.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F

from pad_core.config.family_schema import ATRCfg
from pad_core.config.schema import RunCfg
from pad_core.models.atr.encoders import ENCODERS
from pad_core.models.atr.gates import FRAME_FUSION, TYPE_GATES
from pad_core.models.atr.layers import ConvNormAct, DownConvNormAct, expected_value
from pad_core.models.atr.mixing import MIXES, Mix
from pad_core.models.atr.unet import ResUNet
from pad_core.models.moe.fp32 import FP32Linear
from pad_core.models.pad_model import PADOut


@dataclass
class ATROut(PADOut):
    """PADOut plus ``depth_logits`` b n k s s (every frame's mixed logits), ``gate_logits`` b n m (type gate,
    None unless mix == "gate"), ``depth`` b 1 s s (the fused X_hat the classifier reads). ``embed`` and ``cls``
    are the classifier's L2-normalised feature; ``routing["atr_gate"]`` the per-sample gate shares (b m)."""

    depth_logits: torch.Tensor | None = None
    gate_logits: torch.Tensor | None = None
    depth: torch.Tensor | None = None


class DepthClassifier(nn.Module):
    """f_net: stride-2 conv 1 -> 16, conv 16 -> 8, conv 8 -> 4, flatten, L2-normalise, Linear -> 2."""

    def __init__(self, depth_side: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(DownConvNormAct(1, 16), ConvNormAct(16, 8), ConvNormAct(8, 4), nn.Flatten())
        self.linear = FP32Linear(4 * (depth_side // 2) ** 2, 2)  # fp32 logits: they are the PAD score

    def forward(self, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """b 1 s s -> (logits b 2, normalised feature b 4*(s/2)^2)."""
        # eps matches the released L2Normalize (x / (|x| + 1e-5)) closely enough; F.normalize clamps instead
        feat = F.normalize(self.convs(depth), dim=-1, eps=1e-5)
        return self.linear(feat), feat


@dataclass(frozen=True)
class ATRLayers:
    """The classes ``atr.*`` options name, resolved once by :func:`build_atr` (the family's factory)."""

    encoder: type[nn.Module]  # atr.encoder: CNNEncoder | CLIPEncoder
    type_gate: type[nn.Module]  # atr.encoder too: the gate that reads that encoder's gate input
    mix: type[Mix]  # atr.mix
    fusion: type[nn.Module]  # atr.frame_attention: AttentionFusion | MeanFusion

    @classmethod
    def of(cls, a: ATRCfg) -> ATRLayers:
        return cls(encoder=ENCODERS.get(a.encoder), type_gate=TYPE_GATES.get(a.encoder), mix=MIXES.get(a.mix),
                   fusion=FRAME_FUSION(a.frame_attention))


class ATRModel(nn.Module):
    """``forward({"frames": b n 3 S S})`` -> :class:`ATROut`. Sizes come from ``cfg.atr`` (ATRCfg), the classes its
    options name from ``layers``."""

    def __init__(self, cfg: RunCfg, layers: ATRLayers) -> None:
        super().__init__()
        a = cfg.atr
        self.encoder = layers.encoder(cfg)
        self.experts = nn.ModuleList([ResUNet(a.width, width=a.width, levels=a.levels, out_ch=a.depth_bins)
                                      for _ in range(layers.mix.expert_count(a.experts))])
        gate_cls, gate_dim = layers.type_gate, self.encoder.gate_dim
        self.mix = layers.mix(experts=len(self.experts), depth_bins=a.depth_bins, per_frame=a.gate_per_frame,
                              make_gate=lambda: gate_cls(gate_dim, width=a.width, experts=a.experts))
        self.fusion = layers.fusion(width=a.width, depth_bins=a.depth_bins)
        self.classifier = DepthClassifier(a.image_size // 4)

    def forward(self, inputs: dict[str, torch.Tensor]) -> ATROut:
        frames = inputs["frames"]
        b, n = frames.shape[:2]
        enc = self.encoder(frames.flatten(0, 1))
        logits, gate = self.mix([expert(enc.feats) for expert in self.experts], enc.gate_input, n)
        depth = rearrange(expected_value(logits), "(b n) 1 h w -> b n 1 h w", b=b)
        fused = self.fusion(frames, depth)
        cls_logits, feat = self.classifier(fused)
        return ATROut(logits=cls_logits, embed=feat, cls=feat, routing=gate_routing(gate), gate_logits=gate,
                      depth_logits=rearrange(logits, "(b n) k h w -> b n k h w", b=b), depth=fused)


def gate_routing(gate: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Per-sample expert shares of the type gate (mean over frames), for the routing/MI metrics."""
    return {} if gate is None else {"atr_gate": gate.detach().float().softmax(dim=-1).mean(dim=1)}


def build_atr(cfg: RunCfg) -> nn.Module:
    """The ATR-FAS network for ``cfg.family == "atr"``; random init (the paper has no pretrained parts)."""
    return ATRModel(cfg, ATRLayers.of(cfg.atr))
