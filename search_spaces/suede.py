"""SUEDE (paper 004): rows of Tables I, III, IV and the routed-expert figure (Fig. 5) as config deltas.

Shared expert = CLIP's MLP (``moe.mode=parallel``); "visual MoE" drops it (``moe.mode=replace``). Middle and
later layer sets are {4,5,6} and {9,10,11} at 12 blocks (methods.md §10; the paper's labels were lost).
"""

from __future__ import annotations

from pad_core.ablation import Row
from pad_core.models.heads import FLIP_ATTACK_PROMPTS, FLIP_LIVE_PROMPTS
from pad_core.models.variants import VARIANTS
from search_spaces.moae_cr import UNIATTACK

# "Diverse attack text prompts" are unspecified: the FLIP 6-template ensemble (methods.md §6(c)).
SUEDE_BASE = {**UNIATTACK, "head.attack_prompts": FLIP_ATTACK_PROMPTS, "head.live_prompts": FLIP_LIVE_PROMPTS}
SUE = {"moe.kind": "sue"}

TABLE1_ROWS = (
    Row("resnet50", "ResNet50", VARIANTS.get("resnet50")),
    Row("vit_b16", "ViT-B/16", VARIANTS.get("vit_b16")),
    Row("clip", "CLIP", {}),
    Row("suede", "SUEDE", SUE),
)

EXPERT_SETTING_ROWS = (  # Table III
    Row("clip", "CLIP", {}),
    Row("visual_moe", "visual MoE (no shared expert)", {**SUE, "moe.mode": "replace"}),
    Row("text_sue", "text SUE", {**SUE, "moe.tower": "text"}),
    Row("both_sue", "text & visual SUE", {**SUE, "moe.tower": "both"}),
    Row("visual_sue", "visual SUE", SUE),
)

LAYER_ROWS = (  # Table IV
    Row("clip", "CLIP", {}),
    *(Row(f"sue_{s}", f"SUE in {s} blocks", {**SUE, "moe.layers": s}) for s in ("early", "middle", "later", "all")),
)

ROUTED_COUNT_ROWS = (  # Fig. 5: routed experts with top-2
    Row("clip", "CLIP", {}),
    *(Row(f"routed{n}", f"{n} routed experts", {**SUE, "moe.sue.num_routed": n}) for n in (2, 4, 6, 8)),
)

PAPER = {  # SUEDE's numbers (%, ACER/ACC/AUC/EER), methods.md §6(d)
    "table3": {"visual_moe": (13.03, 92.56, 97.21, 9.1), "text_sue": (0.73, 99.32, 99.67, 0.73),
               "both_sue": (0.87, 99.14, 99.57, 0.87), "visual_sue": (0.36, 99.50, 99.70, 0.36)},
    "table4": {"sue_early": (0.77, 99.11, 99.51, 0.77), "sue_middle": (0.76, 99.37, 99.72, 0.66),
               "sue_later": (0.42, 99.53, 99.75, 0.42), "sue_all": (0.36, 99.50, 99.70, 0.36)},
}
