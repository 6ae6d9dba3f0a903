"""BIG-MoE: its ablation axes as rows, on the synthetic MMDG-shaped benchmark (METHODS.md §3(d)).

The paper body is unavailable, so the tables' exact settings and numbers are unknown (METHODS.md §3(d)); the
rows below are the axes its abstract names: expert granularity, isolated gating, the convolutional prompt
bypass, their synergy, the CDC theta and the modality-drop rate, plus the code-vs-figure choices of §3(f).
Missing-modality results are protocols (``P2.no_depth`` ...), not rows.
"""

from __future__ import annotations

from pad_core.ablation import Row
from pad_core.ablation.declare import PaperBase

MMDG = {"family": "bigmoe", "data.manifest": "synthetic:mmdg", "data.benchmark": "mmdg", "data.protocol": "P1.W"}
UNKNOWN = "the paper body is unavailable (abstract and released code only)"
# Every training setting is unknown: AdamW 1e-4 is METHODS.md §3(c)'s fallback. Its 1e-5 for block 11 would need
# per-group learning rates, which padsweep does not have: one lr for all trainable parameters (deviation).
BIGMOE_BASE = PaperBase({
    **MMDG, "optim.name": "adamw", "optim.lr": 1e-4, "optim.weight_decay": 1e-4, "data.batch_size": 32,
    "train.steps": 4000, "data.augment": True,
}, guessed={"optim.name": f"{UNKNOWN}; AdamW, the fallback for new adapter modules",
            "optim.lr": f"{UNKNOWN}; 1e-4 for the new modules (the fallback's 1e-5 for block 11 is not applied: one "
                        "lr for all trainable parameters)",
            "optim.weight_decay": f"{UNKNOWN}; 1e-4", "data.batch_size": f"{UNKNOWN}; 32 as the CLIP papers",
            "train.steps": f"{UNKNOWN}; FLIP's 4,000 steps", "data.augment": f"{UNKNOWN}; FLIP's flips + jitter"})

COARSE = {"bigmoe.experts": "ffn"}
SHARED_GATE = {"bigmoe.gate_input": "expert"}
NO_CPB = {"bigmoe.cpb": False}

GRANULARITY_ROWS = (
    Row("peer", "fine-grained (PEER, 40^2 rank-1 experts)", {}),
    Row("ffn4", "coarse (4 FFN experts)", COARSE),
)
GATE_ROWS = (
    Row("isolated", "isolated gate (G* = [G; G_p])", {}),
    Row("expert_gate", "gate on the expert input", SHARED_GATE),
)
CPB_ROWS = (
    Row("cpb", "CPB (with the figure's residual)", {}),
    Row("cpb_code", "CPB without residual (released code)", {"bigmoe.cpb_residual": False}),
    Row("no_cpb", "w/o CPB", NO_CPB),
)
SYNERGY_ROWS = (  # components added one at a time, from coarse experts gated on their own input (which has no
    # prompt path at all, so no CPB either: the bypass carries the prompts the isolated gate reads)
    Row("coarse", "coarse experts", {**COARSE, **SHARED_GATE}),
    Row("fine", "+ fine-grained", SHARED_GATE),
    Row("fine_igma", "+ fine-grained + isolated gate", NO_CPB),
    Row("coarse_igma_cpb", "coarse + isolated gate + CPB", COARSE),
    Row("full", "BIG-MoE (fine-grained + isolated gate + CPB)", {}),
)
CDC_ROWS = tuple(Row(f"theta{t:g}", f"CDC theta = {t:g}", {"bigmoe.cdc_theta": t}) for t in (0.0, 0.3, 0.5, 0.7, 0.9))
DROP_ROWS = tuple(Row(f"drop{p:g}", f"modality drop p = {p:g}", {"bigmoe.modality_drop": p})
                  for p in (0.0, 0.1, 0.3, 0.5))
WIRING_ROWS = (  # METHODS.md §3(f): the figure's wiring (default) against the released code's choices
    Row("figure", "figure wiring, permute fix, tiled pos-embed", {}),
    Row("code_wiring", "released block wiring", {"bigmoe.faithful_code_wiring": True}),
    Row("code_transpose", "released W-major transpose", {"bigmoe.fix_transpose": False}),
    Row("new_pos", "new position embedding (released)", {"bigmoe.pos_embed": "new"}),
)

PROTOCOLS = {  # protocol groups of the synthetic MMDG benchmark (pad_core/data/protocol_defs/mmdg.json)
    "leave_one_out": ("P1",), "missing": ("P2.no_depth", "P2.no_ir", "P2.no_depth_ir"), "limited": ("P3",),
}
