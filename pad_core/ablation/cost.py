"""GPU-hours of a sweep cell, estimated before it runs (``--plan``) from per-backbone throughput figures.

The estimate is training FLOPs over an assumed sustained rate: images x (forward + backward = 3 x forward FLOPs)
/ (peak x MFU). Forward FLOPs per image were counted with ``torch.utils.flop_counter`` at each backbone's input
size (docs/BENCHMARKS.md §8); MoE layers add their measured ratio in proportion to the blocks they occupy. The
MFU is 0.40 (an assumption for ViT-B/16 under bf16 on an A100) until ``bench/gpu_throughput.py`` measures it on
the cluster's card; replace the figure in ``THROUGHPUT`` then, and the plan says which figures are measured.
"""

from __future__ import annotations

from dataclasses import dataclass

A100_BF16_PEAK = 312e12  # dense bf16 FLOP/s of an A100 (NVIDIA's datasheet)
ASSUMED_MFU = 0.40  # sustained share of the peak; measured MFU replaces it (BENCHMARKS §4)
EVAL_FRACTION = 1 / 3  # an evaluation image costs a forward pass only


@dataclass(frozen=True)
class Throughput:
    forward_gflop: float  # forward FLOPs per image of the vanilla backbone (both towers for CLIP), in GFLOP
    mfu: float = ASSUMED_MFU  # sustained share of the peak
    measured: bool = False  # True once bench/gpu_throughput.py has filled mfu on a real card

    def train_images_per_s(self, factor: float = 1.0) -> float:
        return A100_BF16_PEAK * self.mfu / (3 * self.forward_gflop * 1e9 * factor)


# Forward GFLOP per image, counted at batch 2 on the CPU (BENCHMARKS §8).
THROUGHPUT: dict[str, Throughput] = {
    "ViT-B-16-quickgelu": Throughput(39.51),
    "ViT-B-16": Throughput(39.51),
    "resnet50": Throughput(8.17),
    "vit_b_16": Throughput(33.70),
}

# Forward FLOPs of the model with the MoE kind in every block of its tower, / vanilla CLIP ViT-B/16 (BENCHMARKS §8).
MOE_RATIO_ALL_BLOCKS: dict[tuple[str, str], float] = {
    ("soft", "visual"): 1.616,  # SoftMoE / MMoE, 4 experts
    ("moae", "visual"): 1.582,  # MoAE, 4 experts, 4 heads
    ("sue", "visual"): 2.347,  # SUEDE, shared expert + top-2 of 4 routed
    ("sue", "both"): 2.655,
}


@dataclass(frozen=True)
class CellCost:
    gpu_hours: float  # estimated GPU-hours of the cell (all its GPUs)
    basis: str  # where the figures came from, printed with the plan


def estimate(cfg, dev_images: int = 0, test_images: int = 0) -> CellCost | None:
    """GPU-hours of one cell, or None without a figure: a backbone not in ``THROUGHPUT``, or the BIG-MoE and
    ATR-FAS families, whose own modules (three modality streams, per-frame U-Nets) have no FLOP count yet."""
    fig = THROUGHPUT.get(cfg.backbone.name)
    if fig is None or cfg.family != "clip":
        return None
    factor = 1.0
    if cfg.moe.kind != "none":
        from pad_core.models.moe_blocks import moe_placements  # torch-free (so is the plan)

        ratio = MOE_RATIO_ALL_BLOCKS.get((cfg.moe.kind, cfg.moe.tower), MOE_RATIO_ALL_BLOCKS.get((cfg.moe.kind,
                                                                                                 "visual"), 1.0))
        placed = moe_placements(cfg)
        share = _block_share(cfg, placed)
        factor = 1.0 + (ratio - 1.0) * share
    images = cfg.train.steps * cfg.data.batch_size
    evals = cfg.train.steps // cfg.train.eval_every
    eval_images = (evals + 1) * dev_images + test_images
    seconds = (images + EVAL_FRACTION * eval_images) / fig.train_images_per_s(factor)
    source = "measured MFU" if fig.measured else f"assumed MFU {fig.mfu:.2f}"
    return CellCost(seconds / 3600, f"{cfg.backbone.name} {fig.forward_gflop:g} GFLOP/img x{factor:.2f}, "
                                    f"A100 bf16, {source}")


def _block_share(cfg, placed: dict[str, tuple[int, ...]]) -> float:
    """Share of the towers' blocks that hold an MoE layer (1.0 = every block, as the ratio was measured)."""
    from pad_core.models.backbone_shapes import backbone_info  # torch-free: open_clip's config file read

    info = backbone_info(cfg.backbone.name)
    depth = {"visual": info.visual_layers, "text": info.text_layers}
    shares = [len(blocks) / depth[tower] for tower, blocks in placed.items() if depth.get(tower)]
    return sum(shares) / len(shares) if shares else 0.0
