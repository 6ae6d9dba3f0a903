"""Models: open_clip and torchvision backbones, MoE layers, heads, and the ``create_model`` factory."""

from pad_core.models.factory import create_model, moe_placements, resolve_run_cfg, validate_model_cfg
from pad_core.models.pad_model import ClassifierModel, PADModel, PADOut
from pad_core.models.variants import VARIANTS

__all__ = ["VARIANTS", "ClassifierModel", "PADModel", "PADOut", "create_model", "moe_placements", "resolve_run_cfg",
           "validate_model_cfg"]
