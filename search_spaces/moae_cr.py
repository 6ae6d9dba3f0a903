"""MoAE-CR (paper 002): rows of Tables 1, 2, 4 and 5 as config deltas, and the UniAttackData base config.

DM/CDM use the ``repaired`` form by default (the printed DM is identically zero, methods.md §4(f)); the
``literal`` rows keep the paper's equations to show it.
"""

from __future__ import annotations

from pad_core.ablation import Row
from pad_core.models.variants import FACE_TEMPLATES, VARIANTS

UNIATTACK = {"data.manifest": "synthetic:uniattack", "data.benchmark": "uniattackdata", "data.synth_scale": 0.05}
MOAE_BASE = {**UNIATTACK, "head.templates": FACE_TEMPLATES, "optim.weight_decay": 5e-4}  # MoAE-CR §4(c)
MOAE = {"moe.kind": "moae"}
CR = {**MOAE, "loss.cr_mode": "repaired"}

BASELINE_ROWS = (  # Table 1 (UniAttackData P1, P2)
    Row("resnet50", "ResNet50", VARIANTS.get("resnet50")),
    Row("vit_b16", "ViT-B/16", VARIANTS.get("vit_b16")),
    Row("clip", "CLIP", {}),
    Row("moae_cr", "MoAE-CR", CR),
)

COMPONENT_ROWS = (  # Table 4 (P1)
    Row("clip", "CLIP", {}),
    Row("softmoe", "+SoftMoE", {"moe.kind": "soft"}),
    Row("moae", "+MoAE", MOAE),
    Row("moae_dm", "+MoAE+DM", {**CR, "loss.cdm_w": 0.0}),
    Row("moae_cdm", "+MoAE+CDM", {**CR, "loss.dm_w": 0.0}),
    Row("moae_cr", "+MoAE+DM+CDM", CR),
    Row("moae_cr_literal", "+MoAE+DM+CDM (as printed)", {**CR, "loss.cr_mode": "literal"}),
)

LOSS_SWAP_ROWS = (  # Table 2 (P1, P2): DM+CDM replaced by another metric loss
    Row("supcon", "SupContrastive", {**MOAE, "loss.metric": "supcon"}),
    Row("npair", "N-pair", {**MOAE, "loss.metric": "npair"}),
    Row("triplet", "Triplet", {**MOAE, "loss.metric": "triplet"}),
    Row("hard_triplet", "Hard Triplet", {**MOAE, "loss.metric": "hard_triplet"}),
    Row("moae_cr", "MoAE-CR", CR),
)

GRID_ROWS = tuple(  # Table 5: experts x heads (ACER, P1)
    Row(f"e{e}h{h}", f"{e} experts, {h} heads", {**CR, "moe.moae.num_experts": e, "moe.moae.heads": h})
    for e in (2, 4, 8) for h in (2, 4, 8))

PAPER = {  # MoAE-CR's numbers (%, ACER/ACC/AUC), methods.md §4(d)
    "table4": {"clip": (0.79, 98.91, 99.76), "softmoe": (0.66, 99.01, 99.82), "moae": (0.49, 99.24, 99.79),
               "moae_dm": (0.95, 98.73, 99.79), "moae_cdm": (0.54, 99.28, 99.86), "moae_cr": (0.37, 99.47, 99.97)},
    "table5_acer": {"e2h2": 0.90, "e2h4": 0.41, "e2h8": 0.71, "e4h2": 0.37, "e4h4": 0.41, "e4h8": 0.52,
                    "e8h2": 0.67, "e8h4": 1.09, "e8h8": 1.60},
}
