"""Models: open_clip and torchvision backbones, MoE layers, heads, and the ``create_model`` factory.

Names load on first use (pad_core/lazy_exports.py): a sweep declaration reads ``VARIANTS`` without importing torch.
"""

from typing import TYPE_CHECKING

from pad_core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from pad_core.models.factory import create_model, resolve_run_cfg, validate_model_cfg
    from pad_core.models.moe_blocks import moe_placements
    from pad_core.models.pad_model import ClassifierModel, PADModel, PADOut
    from pad_core.models.variants import VARIANTS

__all__ = ["VARIANTS", "ClassifierModel", "PADModel", "PADOut", "create_model", "moe_placements", "resolve_run_cfg",
           "validate_model_cfg"]
__getattr__ = lazy_exports(__name__, {
    "factory": ("create_model", "resolve_run_cfg", "validate_model_cfg"),
    "moe_blocks": ("moe_placements",),  # torch-free: a plan places the MoE layers too
    "pad_model": ("ClassifierModel", "PADModel", "PADOut"),
    "variants": ("VARIANTS",),
})
