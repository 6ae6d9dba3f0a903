"""The two ways a BIG-MoE block joins the backbone block and its IGMA (METHODS.md §3(f).1; see model.py).

Each maps ``(ops, block, adapter, x, prompt)`` to ``(x, prompt)`` for the next block; ``bigmoe.faithful_code_wiring``
picks one (:data:`pad_core.models.bigmoe.layers.WIRING`).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def figure_block(ops, block, adapter, x, prompt):
    """The figure: IGMA reads the post-attention residual stream and adds beside the MLP."""
    x = x + ops.attn(block, block.ln_1(x))
    delta, prompt = adapter(x[:, 1:], prompt)
    return x + ops.mlp(block, block.ln_2(x)) + F.pad(delta, (0, 0, 1, 0)), prompt  # pad: zero delta on CLS


def code_block(ops, block, adapter, x, prompt):
    """The released code: u = LN1 x; v = LN2(u + Attn(u)); x <- 2v + MLP(v) + [v_cls; IGMA(v)]."""
    u = block.ln_1(x)
    v = block.ln_2(u + ops.attn(block, u))
    delta, prompt = adapter(v[:, 1:], prompt)
    return 2 * v + ops.mlp(block, v) + torch.cat([v[:, :1], delta], dim=1), prompt
