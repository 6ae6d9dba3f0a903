"""MoE configuration: which MoE layer, where it goes, and each layer family's settings.

``moe.kind`` picks the family (``none`` = vanilla CLIP); only the matching sub-config is read, and the
audit (``pad_core.audit``) flags a row that changes the settings of a family it does not use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pad_core.config.fieldcheck import check_fields, require
from pad_core.config.hash_rules import changed, renamed
from pad_core.config.reads import all_but

if TYPE_CHECKING:
    from pad_core.config.schema import RunCfg

LAYER_PRESETS = ("all", "early", "middle", "later", "none")
MOE_KINDS = ("soft", "moae", "sue")  # moe.kind values; each names its section of MoECfg


@dataclass(frozen=True)
class SoftMoECfg:
    num_experts: int = 4  # e (MMoE, La-SoftMoE: 4)
    slots_per_expert: int = 49  # s (La-SoftMoE: 49 = 197 // 4, lucidrains default)
    # router normalisation (METHODS.md §7.1): rms_both = both sides RMS-normalised with per-channel gains, slots
    # from the normalised tokens (lucidrains' soft-moe); l2_scale = both L2-normalised, one learnt scale, slots
    # from the raw tokens (Soft MoE paper, vmoe). The authors' names stay accepted and hash as before.
    norm: Literal["none", "rms_both", "l2_scale"] = field(default="rms_both", metadata=renamed(
        lucidrains="rms_both", puigcerver="l2_scale"))
    expert_hidden_mult: float = 4.0  # expert FFN hidden width / d
    expert_act: Literal["gelu", "quickgelu"] = "gelu"  # expert activation (lucidrains: exact GELU)
    mask_rates: tuple[float, ...] = ()  # MMoE M: per-expert share of zeroed dispatch weights; () = no mask
    cosine_ref: int = 0  # MMoE L: the unmasked reference expert of Eq.3
    detach_ref: bool = False  # stop-gradient on the reference expert's output (MAE-teacher variant)

    def __post_init__(self) -> None:
        check_fields(self)
        require(self.num_experts >= 1, "num_experts", self.num_experts, "needs at least one expert", "use >= 1")
        require(self.slots_per_expert >= 1, "slots_per_expert", self.slots_per_expert, "needs >= 1 slot", "use >= 1")
        require(self.expert_hidden_mult > 0, "expert_hidden_mult", self.expert_hidden_mult, "must be > 0", "use 4.0")
        bad = [r for r in self.mask_rates if not 0.0 <= r < 1.0]
        require(not bad, "mask_rates", self.mask_rates, f"rates {bad} outside [0, 1)", "use rates in [0, 1)")
        require(not self.mask_rates or len(self.mask_rates) == self.num_experts, "mask_rates", self.mask_rates,
                f"{len(self.mask_rates)} rates for {self.num_experts} experts",
                "give one rate per expert (or () for no mask)")
        require(0 <= self.cosine_ref < self.num_experts, "cosine_ref", self.cosine_ref,
                f"no such expert among {self.num_experts}", f"use 0..{self.num_experts - 1}")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """The reference expert matters only to the cosine loss (MMoE Eq.6), off at loss.moe_cosine_w = 0."""
        return all_but(self) if cfg.loss.moe_cosine_w else all_but(self, "cosine_ref", "detach_ref")


@dataclass(frozen=True)
class MoAECfg:
    num_experts: int = 4  # e (MoAE-CR: 4; Table 5 grid 2/4/8)
    heads: int = 2  # h (MoAE-CR: 2; Table 5 grid 2/4/8); must divide the width
    slots_per_expert: int = 49  # s (not stated; La-SoftMoE lineage, METHODS.md §4(b))
    qkv_proj: bool = True  # learned W_q, W_k, W_v; off = identities (the SoftMoE reduction)
    out_proj: bool = True  # learned W_o over the concatenated heads; off = identity
    scale: bool = True  # divide the logits by sqrt(d/h) (MoAE-CR Eq. 2)
    expert_hidden_mult: float = 4.0  # expert hidden width / (d/h)
    expert_act: Literal["gelu", "quickgelu"] = "gelu"  # expert activation

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("num_experts", "heads", "slots_per_expert"):
            require(getattr(self, name) >= 1, name, getattr(self, name), "must be >= 1", "use a positive integer")
        require(self.expert_hidden_mult > 0, "expert_hidden_mult", self.expert_hidden_mult, "must be > 0", "use 4.0")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        return all_but(self)


@dataclass(frozen=True)
class SUECfg:
    num_routed: int = 4  # N routed experts (SUEDE: 4; Fig.5 sweeps 2/4/6/8)
    top_k: int = 2  # experts per token (SUEDE: top-2)
    renorm_topk: bool = False  # renormalise the k gate weights to sum 1 (Mixtral); off = DeepSeekMoE
    routed_init: Literal["random", "copy_mlp", "zero_last"] = "random"  # zero_last starts exactly at CLIP
    routed_hidden: int = 0  # hidden width of a routed expert; 0 = the block MLP's (3072 at ViT-B/16)
    expert_act: Literal["gelu", "quickgelu"] = "quickgelu"  # routed experts mirror CLIP's MLP
    balance_count: Literal["top1", "topk"] = "top1"  # f_i counts top-1 choices (ST-MoE) or all top-k / k
    capacity_factor: float = 0.0  # tokens per expert <= cf * T * k / N, the rest dropped; 0 = dropless
    mask_text_padding: bool = True  # text tower: padding tokens after EOT stay out of the routing losses
    # balance loss per image (text: per prompt), averaged (Switch/ST-MoE), or pooled over the batch (runs before it);
    # it changes the loss only of SUE layers that weight the balance term
    balance_group: Literal["image", "batch"] = field(default="image", metadata=changed(
        "batch", when={"moe.kind": "sue"}, unless={"loss.balance_w": 0.0}))

    def __post_init__(self) -> None:
        check_fields(self)
        require(self.num_routed >= 1, "num_routed", self.num_routed, "must be >= 1", "use e.g. 4")
        require(1 <= self.top_k <= self.num_routed, "top_k", self.top_k,
                f"must be between 1 and num_routed={self.num_routed}", "lower top_k or add routed experts")
        require(self.routed_hidden >= 0, "routed_hidden", self.routed_hidden, "negative", "use 0 (MLP width) or > 0")
        require(self.capacity_factor >= 0, "capacity_factor", self.capacity_factor, "negative", "use 0 (dropless)")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """Text padding exists only where SUE layers sit in the text tower."""
        return all_but(self, "mask_text_padding") if cfg.moe.tower == "visual" else all_but(self)


@dataclass(frozen=True)
class MoECfg:
    kind: Literal["none", "soft", "moae", "sue"] = "none"  # MoE layer injected into the blocks; none = vanilla
    layers: tuple[int, ...] | str = "all"  # block indices, or a preset: all|early|middle|later|none
    tower: Literal["visual", "text", "both"] = "visual"  # CLIP tower(s) whose blocks get the MoE layer
    mode: Literal["parallel", "replace"] = "parallel"  # W(h) = MLP(h) + MoE(h) (SUE: shared + routed), or MoE(h)
    soft: SoftMoECfg = field(default_factory=SoftMoECfg)  # SoftMoE / MMoE settings (kind=soft)
    moae: MoAECfg = field(default_factory=MoAECfg)  # MoAE settings (kind=moae)
    sue: SUECfg = field(default_factory=SUECfg)  # shared + routed experts (kind=sue)

    def __post_init__(self) -> None:
        check_fields(self)
        if isinstance(self.layers, str):
            require(self.layers in LAYER_PRESETS, "layers", self.layers, "unknown layer preset",
                    f"use one of {list(LAYER_PRESETS)} or a tuple of block indices")
        else:
            require(len(set(self.layers)) == len(self.layers), "layers", self.layers, "repeated block index",
                    "list each block once")
            require(all(i >= 0 for i in self.layers), "layers", self.layers, "negative block index",
                    "use 0-based block indices")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """Only the chosen kind's settings; with no MoE layer, nothing but the kind."""
        if self.kind == "none":
            return frozenset({"kind"})
        return all_but(self, *(kind for kind in MOE_KINDS if kind != self.kind))
