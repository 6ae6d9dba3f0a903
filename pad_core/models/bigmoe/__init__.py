"""BIG-MoE (METHODS.md §3): IGMA adapters with PEER experts, the CPB prompt bypass, on a CLIP or torchvision ViT."""

from pad_core.models.bigmoe.model import BigMoEModel, build_bigmoe

__all__ = ["BigMoEModel", "build_bigmoe"]
