"""The two ViT backbones BIG-MoE runs on, taken apart into the pieces its own block loop calls.

``clip``: an open_clip VisionTransformer (conv1, class_embedding, positional_embedding, ln_pre, resblocks,
ln_post) - our CLIP port (METHODS.md §3(b)). ``torchvision``: a torchvision ViT as in the released code
(conv_proj, encoder.layers; a new zero-init CLS; no final LayerNorm). Parts a BIG-MoE model never calls (the
CLIP text tower and projection, torchvision's class token and final LN) are left behind, so every parameter
the model holds is on the loss path.

Legend: n patch tokens per modality, m modalities, d width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from pad_core.config.schema import BackboneCfg
from pad_core.errors import ConfigError
from pad_core.models.backbones import backbone_info, create_clip, create_torchvision, is_torchvision
from pad_core.models.config_layer import TwoWay
from pad_core.registry import Registry

POS_EMBEDS: Registry[type[nn.Module]] = Registry("bigmoe position embedding")


class ClipBlockOps:
    """Sub-module calls of an open_clip ResidualAttentionBlock (batch-first, open_clip >= 3.0)."""

    @staticmethod
    def attn(block: nn.Module, h: torch.Tensor) -> torch.Tensor:
        return block.ls_1(block.attention(q_x=h))

    @staticmethod
    def mlp(block: nn.Module, h: torch.Tensor) -> torch.Tensor:
        return block.ls_2(block.mlp(h))


class TorchvisionBlockOps:
    """Sub-module calls of a torchvision EncoderBlock (its dropout follows attention, as in its forward)."""

    @staticmethod
    def attn(block: nn.Module, h: torch.Tensor) -> torch.Tensor:
        return block.dropout(block.self_attention(h, h, h, need_weights=False)[0])

    @staticmethod
    def mlp(block: nn.Module, h: torch.Tensor) -> torch.Tensor:
        return block.mlp(h)


@dataclass
class Trunk:
    patch_embed: nn.Module  # image -> d-channel patch grid, shared by all modalities
    cls: torch.Tensor  # d, initial class token
    pos: torch.Tensor  # (1 + n) d, the backbone's single-image position embedding (CLS first)
    ln_pre: nn.Module
    blocks: list[nn.Module]
    ln_post: nn.Module  # applied to the final CLS before the head
    ops: type  # ClipBlockOps or TorchvisionBlockOps
    width: int
    image_size: int
    patch: int

    @property
    def grid(self) -> int:
        return self.image_size // self.patch


def clip_trunk(cfg: BackboneCfg) -> Trunk:
    visual = create_clip(cfg).visual
    if not getattr(visual.transformer, "batch_first", True):
        raise ConfigError("backbone.name", cfg.name, "this open_clip build runs its blocks sequence-first",
                          "pin open_clip >= 3.0 (pyproject.toml does)")
    info = backbone_info(cfg.name)
    return Trunk(visual.conv1, visual.class_embedding.detach().clone(), visual.positional_embedding.detach().clone(),
                 visual.ln_pre, list(visual.transformer.resblocks), visual.ln_post, ClipBlockOps,
                 info.visual_width, info.image_size, visual.conv1.kernel_size[0])


def torchvision_trunk(cfg: BackboneCfg) -> Trunk:
    net = create_torchvision(cfg.name, cfg.imagenet_weights)  # ImageNet weights, as the released code
    width = net.hidden_dim
    return Trunk(net.conv_proj, torch.zeros(width), net.encoder.pos_embedding[0].detach().clone(), nn.Identity(),
                 list(net.encoder.layers), nn.Identity(), TorchvisionBlockOps, width, net.image_size, net.patch_size)


TRUNK = TwoWay(torchvision_trunk, clip_trunk)  # is the backbone a torchvision ViT (else an open_clip one)?


def build_trunk(cfg: BackboneCfg) -> Trunk:
    return TRUNK(is_torchvision(cfg.name))(cfg)


@POS_EMBEDS.register("tile")
class TiledPosEmbed(nn.Module):
    """The backbone's patch position embedding repeated per modality + a learnt modality embedding (zero init);
    CLS keeps its own. Starts as the pretrained positions, so each modality first looks like a lone image."""

    def __init__(self, pos: torch.Tensor, *, modalities: int) -> None:
        super().__init__()
        self.pos = nn.Parameter(pos.clone())
        self.modality = nn.Parameter(torch.zeros(modalities, pos.shape[-1]))

    def forward(self) -> torch.Tensor:
        patches = rearrange(self.pos[1:][None] + self.modality[:, None], "m n d -> (m n) d")
        return torch.cat([self.pos[:1], patches])


@POS_EMBEDS.register("new")
class NewPosEmbed(nn.Module):
    """A new (1 + m n) x d embedding, N(0, 0.02^2), as the released code (the pretrained one is unused)."""

    def __init__(self, pos: torch.Tensor, *, modalities: int) -> None:
        super().__init__()
        n, d = pos.shape[0] - 1, pos.shape[1]
        self.pos = nn.Parameter(torch.randn(1 + modalities * n, d) * 0.02)

    def forward(self) -> torch.Tensor:
        return self.pos
