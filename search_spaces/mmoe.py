"""MMoE: the mask-rate rows of Table 5 and the per-expert mask-rate search space."""

from __future__ import annotations

from pad_core.ablation import Row
from pad_core.ablation.declare import PaperBase
from pad_core.models.variants import VARIANTS

# FLIP's schedule (Srivatsan et al., ICCV 2023, the CLIP baseline MMoE compares with): what MMoE leaves unsaid.
FLIP_SCHEDULE_WHY = "MMoE does not say; FLIP's schedule (its CLIP baseline, same lr)"
MMOE_BASE = PaperBase({  # CLIP + SoftMoE (all blocks, parallel) + mask + cosine loss
    **VARIANTS.get("mmoe"),
    "optim.name": "adam", "optim.lr": 1e-6,  # MMoE §4: Adam, lr 1e-6 (A100)
    "loss.cls_w": 1.0, "loss.moe_cosine_w": 1.0,  # Eq.6: L_clip + 1.0 * L_mmoe
    "optim.weight_decay": 1e-6, "data.batch_size": 32, "train.steps": 4000,
}, guessed={"optim.weight_decay": FLIP_SCHEDULE_WHY, "data.batch_size": FLIP_SCHEDULE_WHY,
            "train.steps": FLIP_SCHEDULE_WHY + " (4,000 iterations = optimiser steps)"})

VANILLA_CLIP = Row("clip", "vanilla CLIP", {"moe.kind": "none", "moe.soft.mask_rates": (), "loss.moe_cosine_w": 0.0})

MASK_RATE_ROWS = (
    VANILLA_CLIP,
    Row("rate1", "Rate 1 (0, .1, .1, .1)", {"moe.soft.mask_rates": (0.0, 0.1, 0.1, 0.1)}),
    Row("rate2", "Rate 2 (0, .5, .5, .5)", {"moe.soft.mask_rates": (0.0, 0.5, 0.5, 0.5)}),
    Row("rate3", "Rate 3 (0, .15, .30, .45)", {"moe.soft.mask_rates": (0.0, 0.15, 0.30, 0.45)}),
    Row("rate4", "Rate 4 (.1, .1, .1, .1)", {"moe.soft.mask_rates": (0.1, 0.1, 0.1, 0.1)}),
)

# Paper numbers (Table 5, %), for the table's reference column and the docs.
PAPER_TABLE5 = {
    "rate1": {"P1": (1.23, 98.76, 99.34, 1.18), "P2": (7.59, 92.14, 98.14, 7.59)},
    "rate2": {"P1": (1.38, 98.63, 99.51, 1.41), "P2": (8.14, 91.86, 97.67, 8.13)},
    "rate3": {"P1": (1.60, 97.45, 99.47, 1.59), "P2": (7.95, 92.06, 97.57, 7.95)},
    "rate4": {"P1": (1.43, 98.57, 99.51, 1.43), "P2": (8.70, 91.30, 97.36, 8.72)},
    "clip": {"P1": (1.41, 98.59, 99.61, 1.41), "P2": (8.09, 91.91, 97.82, 8.11)},
}


def mask_rate_space(trial, *, num_experts: int = 4, expert0_free: bool = False, max_rate: float = 0.6,
                    lr_range: tuple[float, float] = (3e-4, 3e-3)) -> dict:
    """Per-expert mask rates (expert 0 fixed at 0 unless ``expert0_free``) and the learning rate."""
    rates = tuple(trial.suggest_float(f"search.mask_rate_{i}", 0.0, max_rate) if i > 0 or expert0_free else 0.0
                  for i in range(num_experts))
    trial.suggest_float("optim.lr", *lr_range, log=True)
    return {"moe.soft.mask_rates": rates}

COMPONENT_ROWS = (  # Table 6: S = SoftMoE, L = cosine loss (expert 0 reference), M = mask (Rate 1)
    VANILLA_CLIP,
    Row("s", "CLIP+S", {"moe.soft.mask_rates": (), "loss.moe_cosine_w": 0.0}),
    Row("sl", "CLIP+S+L", {"moe.soft.mask_rates": ()}),
    Row("sm", "CLIP+S+M", {"loss.moe_cosine_w": 0.0}),
    Row("sml", "CLIP+S+M+L (MMoE)", {}),
)

_NO_MMOE = {"moe.kind": "none", "moe.soft.mask_rates": (), "loss.moe_cosine_w": 0.0}
BACKBONE_ROWS = (  # Tables 3-4: P1, P2 and the P3 average
    Row("resnet50", "ResNet50", {**_NO_MMOE, **VARIANTS.get("resnet50")}),
    Row("vit_b16", "ViT-B/16", {**_NO_MMOE, **VARIANTS.get("vit_b16")}),
    VANILLA_CLIP,
    Row("flip", "FLIP", {**_NO_MMOE, **VARIANTS.get("flip_it")}),
    Row("mmoe", "MMoE", {}),
)
BACKBONE_PROTOCOLS = ("P1", "P2", "P3")  # P3 expands to P3.1..P3.6; the table adds their average


def _p3_subprotocols(acer_eer: dict[str, tuple[float, float]]) -> dict[str, float]:
    """MMoE's P3.x cells: the paper prints ACER and EER per sub-protocol (no ACC/AUC)."""
    return {f"{p} {m}": v for p, (acer, eer) in acer_eer.items() for m, v in (("ACER", acer), ("EER", eer))}


# Tables 3-4 (%, ACER/ACC/AUC/EER): P1, P2 and the P3 average (the table's "P3" column); MMoE also per P3.x.
PAPER_TABLES34 = {
    "resnet50": {"P1": (1.95, 98.05, 99.56, 1.95), "P2": (12.38, 87.54, 94.97, 12.39),
                 "P3": (9.81, 90.18, 93.45, 11.62)},
    "vit_b16": {"P1": (2.77, 97.23, 99.53, 2.77), "P2": (12.37, 87.63, 95.57, 12.35),
                "P3": (12.67, 87.34, 91.28, 12.31)},
    "clip": {"P1": (1.41, 98.59, 99.61, 1.41), "P2": (8.09, 91.91, 97.82, 8.11), "P3": (6.85, 93.14, 95.53, 8.97)},
    "flip": {"P1": (1.45, 98.55, 99.77, 1.45), "P2": (9.25, 90.72, 96.95, 9.18), "P3": (5.83, 94.17, 97.58, 5.81)},
    "mmoe": {"P1": (1.23, 98.76, 99.34, 1.18), "P2": (7.59, 92.41, 98.14, 7.59), "P3": (4.85, 95.12, 97.26, 5.68)},
}
PAPER_TABLES34_P3_MMOE = _p3_subprotocols({"P3.1": (0.29, 0.00), "P3.2": (15.18, 15.13), "P3.3": (6.34, 6.34),
                                           "P3.4": (6.57, 11.94), "P3.5": (0.50, 0.46), "P3.6": (0.19, 0.20)})

PAPER_TABLE6 = {  # P1 and P2 ACER/ACC/AUC/EER (%)
    "clip": {"P1": (1.41, 98.59, 99.61, 1.41), "P2": (8.09, 91.91, 97.82, 8.11)},
    "s": {"P1": (1.45, 98.55, 99.64, 1.44), "P2": (9.64, 90.36, 97.11, 9.61)},
    "sl": {"P1": (1.31, 98.70, 99.34, 1.40), "P2": (7.60, 92.40, 98.03, 7.60)},
    "sm": {"P1": (1.25, 98.75, 99.49, 1.31), "P2": (8.83, 91.17, 97.59, 8.85)},
    "sml": {"P1": (1.23, 98.76, 99.34, 1.18), "P2": (7.59, 92.41, 98.14, 7.59)},
}
