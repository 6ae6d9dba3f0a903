"""Named model variants: flat config deltas over :class:`RunCfg` (rows of the papers' tables).

Each is a starting point; sweeps add the scale (backbone, data, schedule) and their own row deltas.
"""

from __future__ import annotations

from typing import Any

from pad_core.models.prompts import FLIP_ATTACK_PROMPTS, FLIP_LIVE_PROMPTS
from pad_core.registry import Registry

VARIANTS: Registry[dict[str, Any]] = Registry("model variant")

MMOE_RATES = (0.0, 0.1, 0.1, 0.1)  # MMoE Table 5, Rate 1 (the paper's default)
FACE_TEMPLATES = ("This is an image of a {} face",)  # La-SoftMoE's best template (T-8), MoAE-CR lineage
# The rows pin no weights: torchvision rows read backbone.imagenet_weights (--imagenet-weights), CLIP rows
# backbone.pretrained (--pretrained), so the command line reaches every row.
IMAGENET_BASELINE = {"backbone.norm_stats": "imagenet", "head.kind": "linear"}

_VARIANTS: dict[str, dict[str, Any]] = {
    # CLIP baselines (MMoE Tables 3-4, MoAE-CR Table 1, SUEDE Table I)
    "clip": {"moe.kind": "none"},
    "flip_it": {"head.attack_prompts": FLIP_ATTACK_PROMPTS, "head.live_prompts": FLIP_LIVE_PROMPTS},
    "flip_v": {"head.kind": "flip_v"},
    "resnet50": {"backbone.name": "resnet50", **IMAGENET_BASELINE},
    "vit_b16": {"backbone.name": "vit_b_16", **IMAGENET_BASELINE},
    # MMoE: S, S+L, S+M, S+M+L
    "softmoe": {"moe.kind": "soft"},
    "softmoe_cos": {"moe.kind": "soft", "loss.moe_cosine_w": 1.0},
    "softmoe_mask": {"moe.kind": "soft", "moe.soft.mask_rates": MMOE_RATES},
    "mmoe": {"moe.kind": "soft", "moe.soft.mask_rates": MMOE_RATES, "loss.moe_cosine_w": 1.0},
    # MoAE-CR
    "moae": {"moe.kind": "moae"},
    "moae_cr": {"moe.kind": "moae", "loss.cr_mode": "repaired"},
    # SUEDE: shared (CLIP MLP) + routed experts; placement by tower
    "sue": {"moe.kind": "sue"},
    "visual_moe": {"moe.kind": "sue", "moe.mode": "replace"},
    "text_sue": {"moe.kind": "sue", "moe.tower": "text"},
    "both_sue": {"moe.kind": "sue", "moe.tower": "both"},
    # BIG-MoE on CLIP (figure wiring) and as released (torchvision ViT-B/16, code wiring)
    "bigmoe": {"family": "bigmoe"},
    "bigmoe_released": {"family": "bigmoe", "backbone.name": "vit_b_16",
                        "backbone.norm_stats": "imagenet", "bigmoe.faithful_code_wiring": True,
                        "bigmoe.fix_transpose": False, "bigmoe.cpb_residual": False, "bigmoe.pos_embed": "new"},
    # ATR-FAS: the full MEMM-DGM, and its CLIP adaptation
    "atr_fas": {"family": "atr"},
    "atr_fas_clip": {"family": "atr", "atr.encoder": "clip"},
}
for _name, _delta in _VARIANTS.items():
    VARIANTS.register(_name)(_delta)
