"""BIG-MoE (Bypass Isolated Gating MoE, multimodal face PAD; METHODS.md §3) on a CLIP or torchvision ViT.

The three modality images share the backbone's patch embedding and run as one token sequence
[CLS; RGB patches; IR patches; Depth patches] through the backbone blocks, each but the last with an IGMA adapter
beside the MLP; prompt tokens P_l (never attended to) travel from block to block through the CPB and steer routing.
The block loop is our own, calling each block's ln_1 / attention / ln_2 / mlp, so that two wirings exist:

- ``figure`` (default): x <- x + Attn(LN1 x); x <- x + MLP(LN2 x) + [0_cls; IGMA(x)], IGMA reading the
  post-attention residual stream. With IGMA's output zero this is exactly the pretrained block.
- ``code`` (``faithful_code_wiring``): u = LN1 x; v = LN2(u + Attn(u)); x <- 2v + MLP(v) + [v_cls; IGMA(v)],
  the released code's double residual (§3(f).1).

Input: ``{"modalities": b m k h w (normalised; order rgb, ir, depth), "missing": b long code, bit i = modality i}``.

Our choices beyond METHODS.md §3 (each also commented where it happens): the last block has no IGMA and the
one before it no CPB (their outputs cannot reach the logits: after the last block only the CLS is read, and
IGMA writes to patch tokens); ``gate_input=expert`` builds no prompt path (prompts act only through routing);
the CLIP port keeps only the visual pieces it calls (no text tower, no projection) and freezes ln_pre with the
patch embedding; ``backbone.train_visual`` / ``train_text`` are not read here - ``bigmoe.train_last_blocks`` is.

Legend: b batch, m modalities, k image channels, h/w image side, n patches per modality, d width.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from pad_core.config.family_schema import MODALITIES, BigMoECfg
from pad_core.config.schema import RunCfg
from pad_core.models.bigmoe.igma import IGMA, NoAdapter
from pad_core.models.bigmoe.layers import BigMoELayers, bigmoe_layers
from pad_core.models.bigmoe.prompt import NoPrompt, PromptGenerator
from pad_core.models.bigmoe.trunk import Trunk, build_trunk
from pad_core.models.moe.fp32 import FP32Linear
from pad_core.models.pad_model import PADOut


def modality_bits(code: torch.Tensor, modalities: int) -> torch.Tensor:
    """b -> b m booleans: modality i is missing iff bit i of the code is set."""
    return (code[:, None] >> torch.arange(modalities, device=code.device)) & 1 == 1


class BigMoEModel(nn.Module):
    """Backbone pieces (see :mod:`.trunk`) + position embedding, prompt generator, one IGMA per block, 2-way head."""

    def __init__(self, trunk: Trunk, cfg: BigMoECfg, layers: BigMoELayers, *,
                 modalities: int = len(MODALITIES)) -> None:
        super().__init__()
        self.modalities, self.modality_drop, self.ops = modalities, cfg.modality_drop, trunk.ops
        self.patch_embed, self.ln_pre, self.ln_post = trunk.patch_embed, trunk.ln_pre, trunk.ln_post
        self.blocks = nn.ModuleList(trunk.blocks)
        self.cls_token = nn.Parameter(trunk.cls.clone())
        self.pos_embed = layers.pos_embed(trunk.pos, modalities=modalities)
        self.prompt = PromptGenerator(image_size=trunk.image_size, patch=trunk.patch, prompt_dim=cfg.prompt_dim,
                                      theta=cfg.cdc_theta, modalities=modalities) \
            if layers.gate.reads_prompt else NoPrompt()
        # Blocks 0..L-2 get an IGMA; the last block's would be dead (see NoAdapter). The last IGMA's P_{l+1} is
        # read by nothing (the code computes and drops it), so it gets no CPB.
        last = len(trunk.blocks) - 1
        self.adapters = nn.ModuleList([*(IGMA(trunk.width, grid=trunk.grid, cfg=cfg, layers=layers,
                                              modalities=modalities, bypass=i < last - 1) for i in range(last)),
                                       NoAdapter()])
        self.head = FP32Linear(trunk.width, 2)  # fp32 logits: they are the PAD score
        self.wiring = layers.wiring
        self._freeze(cfg.train_last_blocks)

    def _freeze(self, train_last_blocks: int) -> None:
        """Patch embedding (and CLIP's ln_pre, the rest of the stem; the code has none) and all but the top
        ``train_last_blocks`` blocks stay fixed; the class token, positions, ln_post and every new module train
        (the code trains its cls, pos and fc)."""
        self.requires_grad_(True)
        frozen_blocks = list(self.blocks)[: max(0, len(self.blocks) - train_last_blocks)]
        for module in (self.patch_embed, self.ln_pre, *frozen_blocks):
            module.requires_grad_(False)

    def drop_modalities(self, images: torch.Tensor, missing: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training: drop each (sample, modality) with p = ``modality_drop`` and OR the drops into the code.
        Eval: the data's code. Either way the images of missing modalities are zeroed - on a copy (the
        released code zeroes the caller's tensors in place, §3(f).4)."""
        code = missing.long()
        if self.training and self.modality_drop > 0:
            drop = torch.rand(images.shape[:2], device=images.device) < self.modality_drop  # b m
            weights = 2 ** torch.arange(self.modalities, device=images.device)
            code = code | (drop.long() * weights).sum(dim=-1)
        keep = ~modality_bits(code, self.modalities)
        return images * keep[:, :, None, None, None].to(images.dtype), code

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """b m k h w -> the token sequence b (1 + m n) d the blocks start from."""
        patches = self.patch_embed(rearrange(images, "b m k h w -> (b m) k h w"))
        tokens = rearrange(patches, "(b m) d x y -> b (m x y) d", b=images.shape[0])
        cls = repeat(self.cls_token, "d -> b 1 d", b=images.shape[0]).to(tokens.dtype)
        return self.ln_pre(torch.cat([cls, tokens], dim=1) + self.pos_embed().to(tokens.dtype))

    def forward(self, inputs: dict[str, torch.Tensor]) -> PADOut:
        images, code = self.drop_modalities(inputs["modalities"], inputs["missing"])
        prompt = self.prompt(images, code)
        x = self.embed(images)
        for block, adapter in zip(self.blocks, self.adapters):
            x, prompt = self.wiring(self.ops, block, adapter, x, prompt)
        feature = self.ln_post(x[:, 0])
        return PADOut(logits=self.head(feature), embed=feature, cls=feature)


def build_bigmoe(cfg: RunCfg) -> BigMoEModel:
    """BIG-MoE on ``cfg.backbone`` (open_clip name, or vit_b_16 / vit-tiny for the released code's backbone)."""
    return BigMoEModel(build_trunk(cfg.backbone), cfg.bigmoe, bigmoe_layers(cfg.bigmoe))
