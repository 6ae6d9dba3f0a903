"""IGMA, BIG-MoE's per-block adapter (isolated-gating MoE), and CPB, the convolutional prompt bypass.

IGMA_l reads the patch tokens of the three modalities and the prompt tokens P_l (METHODS.md §3(a)):
C = QuickGELU(Linear_{d->r}(tokens)), regrouped by patch position to b n (m r); the experts map C to a
delta routed by the gate input (G* = [G; G_p] when isolated, C itself otherwise); the delta is regrouped
back per modality, dropped out and up-projected to d. CPB updates P_l -> P_{l+1} on the patch grid.

Legend: b batch, n patches per modality (= g*g), g grid side, m modalities, d backbone width,
r down_dim, c prompt channels (prompt_dim), q gate width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from einops import rearrange
from torch import nn

from pad_core.config.family_schema import BigMoECfg
from pad_core.models.bigmoe.cdc import ECA, CDConv2d
from pad_core.models.config_layer import TwoWay
from pad_core.models.moe.experts import QuickGELU
from pad_core.registry import Registry

if TYPE_CHECKING:  # layers.py imports this module
    from pad_core.models.bigmoe.layers import BigMoELayers

GATE_INPUTS: Registry[type[nn.Module]] = Registry("bigmoe gate input")
# Tokens -> (b, c, rows, cols). fix_transpose=False reproduces the code's transpose(1, 3) of (b, g, g, c), which
# lays the grid out W-major: the convs see the transposed image and P_{l+1} comes back in W-major token order
# (METHODS.md §3(f).3). Flattening back is "b c x y -> b (x y) c" either way, as in the code.
ROW_MAJOR, W_MAJOR = "b (h w) c -> b c h w", "b (h w) c -> b c w h"
GRID_LAYOUT = TwoWay(ROW_MAJOR, W_MAJOR)  # bigmoe.fix_transpose


class PromptBypass(nn.Module):
    """CPB: P_{l+1} = [P_l +] QuickGELU(CDC_{2c->c}(Drop(ECA([QuickGELU(CDC(P_l)); QuickGELU(CDC_{q->c}(G*))])))).

    ``residual`` adds P_l as the figure draws it; the released code has no residual (METHODS.md §3(f).2).
    """

    def __init__(self, prompt_dim: int, gate_dim: int, *, grid: int, cfg: BigMoECfg, layout: str = ROW_MAJOR) -> None:
        super().__init__()
        self.grid, self.layout, self.residual = grid, layout, cfg.cpb_residual
        self.conv_prompt = CDConv2d(prompt_dim, prompt_dim, theta=cfg.cdc_theta)
        self.conv_gate = CDConv2d(gate_dim, prompt_dim, theta=cfg.cdc_theta)
        self.eca = ECA(kernel_size=cfg.eca_kernel)
        self.drop = nn.Dropout(cfg.dropout)
        self.conv_out = CDConv2d(2 * prompt_dim, prompt_dim, theta=cfg.cdc_theta)
        self.act = QuickGELU()

    def forward(self, prompt: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        p = self.act(self.conv_prompt(rearrange(prompt, self.layout, h=self.grid)))
        g = self.act(self.conv_gate(rearrange(gate, self.layout, h=self.grid)))
        y = self.act(self.conv_out(self.drop(self.eca(torch.cat([p, g], dim=1)))))
        y = rearrange(y, "b c x y -> b (x y) c")
        return prompt + y if self.residual else y


class KeepPrompt(nn.Module):
    """No bypass: P_{l+1} = P_l (``cpb=False``, and the last IGMA, whose P_{l+1} nothing reads)."""

    def forward(self, prompt: torch.Tensor | None, gate: torch.Tensor) -> torch.Tensor | None:
        return prompt


class IsolatedGate(nn.Module):
    """G* = [QuickGELU(Linear_{mr->r}(C)); QuickGELU(Linear_{c->r}(P_l))], b n 2r: routing sees the prompts."""

    reads_prompt = True  # the prompt path (generator, CPB) exists only for a gate that reads it

    def __init__(self, down_dim: int, prompt_dim: int, modalities: int) -> None:
        super().__init__()
        self.from_tokens = nn.Linear(modalities * down_dim, down_dim)
        self.from_prompt = nn.Linear(prompt_dim, down_dim)
        self.act = QuickGELU()
        self.dim = 2 * down_dim

    def forward(self, c: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.act(self.from_tokens(c)), self.act(self.from_prompt(prompt))], dim=-1)


class ExpertInputGate(nn.Module):
    """The gate reads the expert input C itself (the "w/o isolated gating" row); the experts' own query
    projection maps its m*r features to queries, so nothing more is projected here."""

    reads_prompt = False

    def __init__(self, down_dim: int, prompt_dim: int, modalities: int) -> None:
        super().__init__()
        self.dim = modalities * down_dim

    def forward(self, c: torch.Tensor, prompt: torch.Tensor | None) -> torch.Tensor:
        return c


GATE_INPUTS.register("isolated")(IsolatedGate)
GATE_INPUTS.register("expert")(ExpertInputGate)


class IGMA(nn.Module):
    """One block's adapter: ``(patch tokens b (m n) d, P_l b n c) -> (delta b (m n) d, P_{l+1})``.

    ``bypass`` builds a CPB. It needs G*, so it exists only with the isolated gate: with ``gate_input=expert`` the
    prompts would reach the output through no path at all (in BIG-MoE they act only through routing). ``layers``:
    the classes ``cfg``'s options name (``bigmoe_layers(cfg)``, resolved by the family's factory).
    """

    def __init__(self, width: int, *, grid: int, cfg: BigMoECfg, layers: BigMoELayers, modalities: int = 3,
                 bypass: bool = True) -> None:
        super().__init__()
        r, self.modalities = cfg.down_dim, modalities
        self.down = nn.Linear(width, r)
        self.gate = layers.gate(r, cfg.prompt_dim, modalities)
        self.experts = layers.experts.build(cfg, modalities * r, gate_dim=self.gate.dim)
        use_cpb = bypass and cfg.cpb and layers.gate.reads_prompt
        self.bypass = PromptBypass(cfg.prompt_dim, self.gate.dim, grid=grid, cfg=cfg, layout=layers.grid_layout) \
            if use_cpb else KeepPrompt()
        self.drop = nn.Dropout(cfg.dropout)
        self.up = nn.Linear(r, width)
        self.act = QuickGELU()

    def forward(self, tokens: torch.Tensor, prompt: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        c = rearrange(self.act(self.down(tokens)), "b (m n) r -> b n (m r)", m=self.modalities)
        gate = self.gate(c, prompt)
        next_prompt = self.bypass(prompt, gate)
        delta = rearrange(self.experts(c, gate), "b n (m r) -> b (m n) r", m=self.modalities)
        return self.act(self.up(self.drop(delta))), next_prompt


class NoAdapter(nn.Module):
    """The last block's stand-in: a zero delta. IGMA adds only to patch tokens, and after the last block only the
    CLS is read, so an IGMA there could never reach the logits (in the released code it reaches only the unused
    ``feature_output``) and would train nothing; we leave it out."""

    def forward(self, tokens: torch.Tensor, prompt: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.zeros_like(tokens), prompt

