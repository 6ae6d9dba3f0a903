"""Named model variants: flat config deltas over :class:`RunCfg` (rows of the papers' tables)."""

from __future__ import annotations

from typing import Any

from pad_core.registry import Registry

VARIANTS: Registry[dict[str, Any]] = Registry("model variant")

MMOE_RATES = (0.0, 0.1, 0.1, 0.1)  # MMoE Table 5, Rate 1 (the paper's default)

VARIANTS.register("clip")({"moe.kind": "none"})  # vanilla CLIP with the prompt head
VARIANTS.register("softmoe")({"moe.kind": "soft"})  # CLIP+S
VARIANTS.register("softmoe_cos")({"moe.kind": "soft", "loss.moe_cosine_w": 1.0})  # CLIP+S+L
VARIANTS.register("softmoe_mask")({"moe.kind": "soft", "moe.soft.mask_rates": MMOE_RATES})  # CLIP+S+M
VARIANTS.register("mmoe")(  # CLIP+S+M+L, the MMoE paper's model
    {"moe.kind": "soft", "moe.soft.mask_rates": MMOE_RATES, "loss.moe_cosine_w": 1.0}
)
