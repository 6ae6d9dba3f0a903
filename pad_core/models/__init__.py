"""Models: open_clip backbones, MoE layers, heads, and the ``create_model`` factory."""

from pad_core.models.factory import create_model, moe_layer_indices, resolve_run_cfg
from pad_core.models.pad_model import PADModel, PADOut
from pad_core.models.variants import VARIANTS

__all__ = ["VARIANTS", "PADModel", "PADOut", "create_model", "moe_layer_indices", "resolve_run_cfg"]
