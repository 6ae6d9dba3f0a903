"""BIG-MoE's expert layers: PEER (fine-grained, product-key rank-1 experts) and dense-gated FFN experts (coarse).

Both map ``(x, g)`` to an output shaped like ``x``: ``x`` is the expert input (b n d), ``g`` the gate input
(b n q) the routing queries are computed from (IGMA's isolated gate G*, or ``x`` itself). The ``experts`` toggle
picks one by name from :data:`EXPERTS` (METHODS.md §3(a).4, §3(d)).

Legend: b batch, n tokens, d expert width, q gate width, p the two product-key halves, h heads, k keys per half
(or kept candidates), c key width, e experts.
"""

from __future__ import annotations

import torch
from einops import einsum, rearrange, repeat
from torch import nn
from torch.nn import functional as F

from pad_core.models.config_layer import ConfigLayer
from pad_core.models.moe.experts import GELU, BatchedExperts
from pad_core.models.moe.fp32 import fp32_region
from pad_core.registry import Registry

EXPERTS: Registry[ConfigLayer] = Registry("bigmoe experts")


class RMSNorm(nn.Module):
    """x / ||x|| * sqrt(dim) * gamma (the released code's RMSNorm; gamma starts at ones)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.gamma * self.scale


def product_key_topk(scores_a: torch.Tensor, scores_b: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` of s_a[i] + s_b[j] over all K*K pairs, searching only the top-k of each half.

    ``scores_a``, ``scores_b``: ``... K``. Returns (scores ``... k``, expert ids ``i * K + j`` ``... k``), best
    first. Exact: a pair in the overall top-k has each half in that half's top-k (else k better pairs exist).
    """
    num_keys = scores_a.shape[-1]
    top_a, idx_a = scores_a.topk(k, dim=-1)
    top_b, idx_b = scores_b.topk(k, dim=-1)
    pair_scores = rearrange(top_a[..., :, None] + top_b[..., None, :], "... i j -> ... (i j)")
    pair_ids = rearrange(idx_a[..., :, None] * num_keys + idx_b[..., None, :], "... i j -> ... (i j)")
    scores, pick = pair_scores.topk(k, dim=-1)
    return scores, pair_ids.gather(-1, pick)


class PEER(nn.Module):
    """Parameter-efficient expert retrieval (He 2024): ``keys**2`` rank-1 experts u_e, w_e in R^d.

    Per head, the query picks the top-k experts by product keys; output = sum over heads and picks of
    softmax_k(score) * GELU(<x, u_e>) * w_e. Both inputs are RMS-normalised first (``pre_rmsnorm=True``).
    """

    def __init__(self, dim: int, *, gate_dim: int, keys: int = 40, heads: int = 2, topk: int = 2,
                 key_dim: int = 8) -> None:
        """``keys``: product keys per half (``keys**2`` experts); ``key_dim``: the width of each half."""
        super().__init__()
        self.heads, self.topk = heads, topk
        self.norm_x, self.norm_g = RMSNorm(dim), RMSNorm(gate_dim)
        self.to_queries = nn.Linear(gate_dim, 2 * heads * key_dim, bias=False)
        self.keys = nn.Parameter(torch.randn(2, heads, keys, key_dim) * 0.02)  # code: N(0, 0.02^2)
        self.down = nn.Embedding(keys**2, dim)  # u_e (code: nn.Embedding default init, N(0, 1))
        self.up = nn.Embedding(keys**2, dim)  # w_e
        self.act = GELU()

    @fp32_region
    def route(self, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores, expert ids), each ``b n h k``, from the gate input ``g`` (b n q); float32 whatever the
        autocast, so bf16 rounding cannot reorder near-tied keys."""
        queries = rearrange(self.to_queries(self.norm_g(g)), "b n (p h c) -> p b n h c", p=2, h=self.heads)
        sim = einsum(queries, self.keys, "p b n h c, p h k c -> p b n h k")
        return product_key_topk(sim[0], sim[1], self.topk)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        scores, ids = self.route(g)
        x = self.norm_x(x)
        hidden = self.act(einsum(x, self.down(ids), "b n d, b n h k d -> b n h k"))
        hidden = hidden * scores.softmax(dim=-1)  # fp32 scores: softmax stays fp32 under either autocast
        return einsum(hidden, self.up(ids), "b n h k, b n h k d -> b n d")


class DenseFFNExperts(nn.Module):
    """e full FFN experts on every token, mixed by softmax(Linear(g)): the coarse-expert ablation row.

    Same pre-RMSNorm and GELU as PEER, so the row changes granularity and routing sparsity only.
    """

    def __init__(self, dim: int, *, gate_dim: int, experts: int = 4, hidden_mult: float = 4.0) -> None:
        """``experts``: how many; ``hidden_mult``: an expert's hidden width / ``dim`` (at least one unit)."""
        super().__init__()
        self.num_experts = experts
        self.norm_x, self.norm_g = RMSNorm(dim), RMSNorm(gate_dim)
        self.gate = nn.Linear(gate_dim, experts, bias=False)
        self.experts = BatchedExperts(dim, num_experts=experts, hidden=max(1, round(hidden_mult * dim)),
                                      act_layer=GELU)

    @fp32_region
    def route(self, g: torch.Tensor) -> torch.Tensor:
        """Gate weights b n e (softmax over experts), float32 whatever the autocast."""
        return self.gate(self.norm_g(g)).softmax(dim=-1)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        weights = self.route(g)
        y = self.experts(repeat(self.norm_x(x), "b n d -> b e n d", e=self.num_experts))
        return einsum(weights, y, "b n e, b e n d -> b n d")


# bigmoe.experts -> how the experts are built from BigMoECfg: the peer_* fields are PEER's keywords, the ffn_* fields
# DenseFFNExperts' (prefix dropped), so a new PEER option is one peer_* field and one keyword.
EXPERTS.register("peer")(ConfigLayer(PEER, prefix="peer_"))
EXPERTS.register("ffn")(ConfigLayer(DenseFFNExperts, prefix="ffn_"))

