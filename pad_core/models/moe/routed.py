"""SUEDE's routed experts (docs/METHODS.md §6): softmax gate, top-k, dropless grouped dispatch.

In ``parallel`` mode the block's CLIP MLP is the shared expert and this module is the routed branch:
y = MLP(h) + sum_{i in topk} g_i E_i(h). In ``replace`` mode it is the "visual MoE" row (no shared expert).

Legend: t tokens (batch x sequence, flattened), d width, k experts per token, r routed experts,
c capacity (slots per expert in the padded dispatch buffer).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from pad_core.models.moe.experts import BatchedExperts
from pad_core.models.moe.fp32 import fp32_region
from pad_core.models.moe.outputs import MoEOut


def router_z_loss(logits: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """ST-MoE z-loss: mean over (valid) tokens of logsumexp(u)^2. ``logits`` t r, ``valid`` t bool."""
    z = torch.logsumexp(logits.float(), dim=-1).square()
    return z.mean() if valid is None else z[valid].mean()


def load_balance_loss(probs: torch.Tensor, topk_idx: torch.Tensor, *, count: str = "top1",
                      valid: torch.Tensor | None = None, mean: Callable[[torch.Tensor], torch.Tensor] | None = None,
                      groups: int = 0) -> torch.Tensor:
    """Switch/ST-MoE balance loss N * sum_i f_i P_i.

    f_i: share of tokens whose top-1 choice is i (``count='top1'``), or share of all top-k assignments
    (``'topk'``, i.e. counts / k); P_i: mean router probability. Both over valid tokens only.

    ``groups=0`` (``moe.sue.balance_group=batch``): f and P over every token of the batch, one product. ``groups=b``
    (``image``): the t tokens are b sequences of t/b tokens in order; f and P are taken per sequence and the b
    products averaged (Switch/ST-MoE and HF's SwitchTransformers: the loss of each group, then their mean). The
    two agree at b = 1. A sequence without a valid token has no f or P and stays out of the mean.

    ``mean`` averages over dim 0 (default: this process's rows); under DDP training it is the mean over every
    rank's rows (``global_mean``): of the tokens in the batch form, since a product of two batch means is not the
    mean of the ranks' products; of the groups in the per-image form, so every rank's images enter one mean.
    """
    mean = mean or (lambda t: t.mean(dim=0))
    r = probs.shape[-1]
    chosen = topk_idx[:, :1] if count == "top1" else topk_idx
    share = F.one_hot(chosen, r).float().sum(dim=1) / chosen.shape[1]  # t r: the token's part of f
    if not groups:
        if valid is not None:
            probs, share = probs[valid], share[valid]
        return r * (mean(share) * mean(probs)).sum()
    weight = torch.ones(probs.shape[0], device=probs.device) if valid is None else valid.float()
    weight = weight.view(groups, -1, 1)  # b n 1
    tokens = weight.sum(dim=1)  # b 1: valid tokens per group
    f = (share.view(groups, -1, r) * weight).sum(dim=1) / tokens.clamp_min(1)
    p = (probs.view(groups, -1, r) * weight).sum(dim=1) / tokens.clamp_min(1)
    per_group = r * (f * p).sum(dim=-1)  # b
    if valid is None:
        return mean(per_group)
    # the mean over groups with a valid token, as a ratio of two means: a boolean index would sync the device
    has = (tokens[:, 0] > 0).to(per_group.dtype)
    return mean(per_group * has) / mean(has).clamp_min(torch.finfo(has.dtype).tiny)


def token_mean(training: bool) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The global (all ranks) mean of the balance loss's rows (tokens or groups) while training; None (this
    process's) in evaluation, where ranks score shards of different lengths and a collective per forward would wait
    for a rank that has finished."""
    if not training:
        return None
    from pad_core.engine.distributed import global_mean  # engine imports models: resolved at call time

    return global_mean


def grouped_dispatch(x: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor, experts: BatchedExperts,
                     capacity: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """sum_j weights[t, j] * E_{idx[t, j]}(x[t]) for every token, computed expert-major in one batched call.

    Assignments are sorted by expert, placed into a zero-padded ``r c d`` buffer (c = the largest expert
    load, or ``capacity`` when > 0, which drops the overflow), run through all experts at once, and added
    back to their tokens with ``index_add_``. Returns (output t d, kept-assignment mask of the sorted order).
    """
    t, k = idx.shape
    r = experts.w1.shape[0]
    flat = idx.reshape(-1)
    order = flat.argsort(stable=True)
    expert = flat[order]
    counts = torch.bincount(flat, minlength=r)
    position = torch.arange(t * k, device=x.device) - (counts.cumsum(0) - counts)[expert]
    cap = capacity or int(counts.max())
    keep = position < cap
    token = torch.div(order, k, rounding_mode="floor")
    buffer = x.new_zeros(r, cap, x.shape[-1])
    buffer[expert[keep], position[keep]] = x[token[keep]]
    out = experts(buffer[None])[0]
    # Weighting and the sum over a token's k experts run in (at least) the router weights' float32, then the
    # result takes the experts' dtype. Under autocast the experts return bf16 while x may be float32 (the text
    # tower's residual stream is), so neither x's nor out's dtype alone is a safe accumulator for index_add_.
    acc = torch.promote_types(out.dtype, weights.dtype)
    contrib = out[expert[keep], position[keep]].to(acc) * weights.reshape(-1)[order[keep]].to(acc)[:, None]
    y = torch.zeros(t, x.shape[-1], dtype=acc, device=x.device).index_add_(0, token[keep], contrib)
    return y.to(out.dtype), keep


class RoutedExperts(nn.Module):
    """r FFN experts, a bias-free linear gate, softmax then top-k (DeepSeekMoE; ``renorm_topk`` = Mixtral)."""

    def __init__(self, dim: int, *, num_routed: int = 4, top_k: int = 2, hidden: int = 3072,
                 act_layer: type[nn.Module] = nn.GELU, renorm_topk: bool = False, balance_count: str = "top1",
                 capacity_factor: float = 0.0, balance_group: str = "image") -> None:
        super().__init__()
        self.top_k, self.renorm_topk, self.balance_count = top_k, renorm_topk, balance_count
        self.balance_group = balance_group  # "image": one balance loss per sequence, averaged; "batch": pooled
        self.capacity_factor = capacity_factor
        self.gate = nn.Linear(dim, num_routed, bias=False)
        self.experts = BatchedExperts(dim, num_experts=num_routed, hidden=hidden, act_layer=act_layer)
        self.token_mask: torch.Tensor | None = None  # b n, True = real token; set per forward for the text tower

    def capacity(self, tokens: int) -> int:
        r = self.experts.w1.shape[0]
        return math.ceil(self.capacity_factor * tokens * self.top_k / r) if self.capacity_factor else 0

    def forward(self, x: torch.Tensor) -> MoEOut:
        b, n, d = x.shape
        tokens = x.reshape(b * n, d)
        logits, probs = self.route(tokens)
        weights, idx = probs.topk(self.top_k, dim=-1)
        if self.renorm_topk:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        y, keep = grouped_dispatch(tokens, idx, weights, self.experts, self.capacity(b * n))
        valid = self.token_mask.reshape(-1) if self.token_mask is not None else None
        aux = {"router_z": router_z_loss(logits, valid),
               "balance": load_balance_loss(probs, idx, count=self.balance_count, valid=valid,
                                            mean=token_mean(self.training),
                                            groups=b if self.balance_group == "image" else 0)}
        return MoEOut(y.view(b, n, d), aux=aux, stats=self._stats(probs, keep), routing=self._routing(idx, b, n))

    @fp32_region
    def route(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gate logits, softmax probabilities), each t r, in float32 whatever the autocast: top-k choices
        flip on bf16 rounding of near-tied logits (ST-MoE's selective precision)."""
        logits = self.gate(tokens)
        return logits, logits.softmax(dim=-1)

    def _routing(self, idx: torch.Tensor, b: int, n: int) -> torch.Tensor:
        with torch.no_grad():
            r = self.experts.w1.shape[0]
            return F.one_hot(idx, r).float().view(b, n * self.top_k, r).mean(dim=1)

    @staticmethod
    def _stats(probs: torch.Tensor, keep: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean()
            return {"router_entropy": entropy, "dropped": 1.0 - keep.float().mean()}

    def init_from_mlp(self, mlp: nn.Module, how: str) -> None:
        """routed_init: ``copy_mlp`` copies CLIP's c_fc/c_proj into every expert (upcycling); ``zero_last``
        zeroes each expert's output layer so the block starts exactly as CLIP; ``random`` keeps the default."""
        if how == "copy_mlp":
            self.experts.load_linear_pairs([(mlp.c_fc, mlp.c_proj)] * self.experts.w1.shape[0])
        elif how == "zero_last":
            with torch.no_grad():
                self.experts.w2.zero_()
                self.experts.b2.zero_()
