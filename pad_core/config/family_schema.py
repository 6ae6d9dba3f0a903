"""Settings of the two model families that are not "CLIP + MoE layers": BIG-MoE and ATR-FAS.

``family`` (on :class:`RunCfg`) picks the family; only the matching sub-config is read, and the audit flags a
row that changes a family it does not use. Defaults are the released code's (METHODS.md §3, §5) with the
fixes of §3(f) and §5(f) on; each fix has a toggle that restores the original behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pad_core.config.fieldcheck import check_fields, require
from pad_core.config.reads import all_but, prefixed

if TYPE_CHECKING:
    from pad_core.config.schema import RunCfg

MODALITIES = ("rgb", "ir", "depth")  # bit m of the missing-modality code is MODALITIES[m] (BIG-MoE code order)
ATR_MIXES = ("single", "avg", "sum", "cat", "gate")


@dataclass(frozen=True)
class BigMoECfg:
    modality_drop: float = 0.3  # p of dropping each modality per training sample (code: 0.3); 0 = off
    down_dim: int = 8  # r: IGMA's per-modality bottleneck width (code: 8)
    prompt_dim: int = 64  # channels of the prompt tokens P_l carried from block to block (code: 64)
    experts: Literal["peer", "ffn"] = "peer"  # granularity: PEER rank-1 product-key experts, or full FFN experts
    peer_keys: int = 40  # product keys per half: peer_keys**2 experts (code: 40 -> 1600)
    peer_heads: int = 2  # PEER retrieval heads (code: 2)
    peer_topk: int = 2  # experts kept per head, and candidates per key half (code: 2)
    peer_key_dim: int = 8  # dim of each product-key half (code: 8)
    ffn_experts: int = 4  # coarse alternative: number of full FFN experts (dense softmax gate)
    ffn_hidden_mult: float = 4.0  # hidden width of a coarse FFN expert / its input width (3 * down_dim)
    gate_input: Literal["isolated", "expert"] = "isolated"  # router queries from G* = [G; G_p], or from the input C
    cpb: bool = True  # convolutional prompt bypass; off = P_l stays the prompt-generation output P_0
    cpb_residual: bool = True  # P_{l+1} = P_l + CPB(.) as the figure draws it; off = the code (no residual)
    cdc_theta: float = 0.7  # central-difference weight theta of every CDC conv; 0 = vanilla conv
    eca_kernel: int = 3  # ECA 1-d conv kernel over channels (code: 3)
    dropout: float = 0.1  # dropout inside CPB and after the experts (code: 0.1)
    faithful_code_wiring: bool = False  # reproduce the released block wiring (x <- 2v + F + [v_cls; C]; §3(f).1)
    fix_transpose: bool = True  # tokens -> (B, C, H, W) with permute; off = the code's W-major transpose (§3(f).3)
    pos_embed: Literal["tile", "new"] = "tile"  # tile the backbone's patch pos-embed x3 + modality embedding, or
    # a new (1 + 3n) x d embedding, N(0, 0.02) (released code)
    train_last_blocks: int = 1  # backbone blocks left trainable from the top (code: block 11 only); the rest freeze

    def __post_init__(self) -> None:
        check_fields(self)
        require(0.0 <= self.modality_drop < 1.0, "modality_drop", self.modality_drop, "outside [0, 1)", "use 0.3")
        for name in ("down_dim", "prompt_dim", "peer_keys", "peer_heads", "peer_topk", "peer_key_dim", "ffn_experts",
                     "eca_kernel"):
            require(getattr(self, name) >= 1, name, getattr(self, name), "must be >= 1", "use a positive integer")
        require(self.peer_topk <= self.peer_keys, "peer_topk", self.peer_topk,
                f"more than the {self.peer_keys} keys per half", "lower peer_topk or raise peer_keys")
        require(self.eca_kernel % 2 == 1, "eca_kernel", self.eca_kernel, "must be odd", "use 3")
        require(0.0 <= self.dropout < 1.0, "dropout", self.dropout, "outside [0, 1)", "use 0.1")
        require(0.0 <= self.cdc_theta <= 1.0, "cdc_theta", self.cdc_theta, "outside [0, 1]", "use 0.7 (0 = plain)")
        require(self.ffn_hidden_mult > 0, "ffn_hidden_mult", self.ffn_hidden_mult, "must be > 0", "use 4.0")
        require(self.train_last_blocks >= 0, "train_last_blocks", self.train_last_blocks, "negative", "use 1")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """One expert granularity's settings (``peer_*`` or ``ffn_*``). A gate on the expert input leaves the prompts
        no path to the output, so nothing of the prompt path is read; without CPB its residual and ECA are not."""
        unread = list(prefixed(self, "ffn_" if self.experts == "peer" else "peer_"))
        if self.gate_input == "expert":
            unread += ["cpb", "cpb_residual", "eca_kernel", "fix_transpose", "prompt_dim", "cdc_theta"]
        elif not self.cpb:
            unread += ["cpb_residual", "eca_kernel"]
        return all_but(self, *unread)


@dataclass(frozen=True)
class ATRCfg:
    n0: int = 5  # flash frames used per sample, N0 (ATR-FAS: 5; its Fig. 7 sweeps 3..8)
    dn: Literal["dn", "off", "consecutive"] = "dn"  # differential normalisation (ATR-FAS Table 4); consecutive = Aurora
    # Guard's frame-to-frame differences; off = the raw frames
    mix: Literal["single", "avg", "sum", "cat", "gate"] = "gate"  # ATR-FAS Table 3: one depth net, or M experts mixed
    # uniformly, summed, concatenated + fused, or by the type gate (RG/TG: loss.gate_w = 0 / > 0)
    frame_attention: bool = True  # attention gate: softmax over frames per pixel; off = frames averaged
    experts: int = 3  # M depth experts (print, replay, 3D)
    depth_bins: int = 256  # depth quantisation bins of the expert outputs (code: 256)
    width: int = 64  # stem output channels and the ResUNet's first level (code: 64, levels 64..1024)
    levels: int = 4  # ResUNet down-sampling levels (code: 4)
    gate_per_frame: bool = True  # one type gate per frame (code); off = gate logits mean-pooled over frames
    encoder: Literal["cnn", "clip"] = "cnn"  # the paper's CNN stem, or CLIP patch tokens + conv upsamplers (§5(b))
    image_size: int = 256  # aligned frame side fed to the CNN (paper: 256); depth maps are image_size / 4

    @property
    def num_frames(self) -> int:
        """N, the frames the networks see: 2(N0-2) differential frames, N0-1 consecutive differences, or N0."""
        return {"dn": 2 * (self.n0 - 2), "consecutive": self.n0 - 1, "off": self.n0}[self.dn]

    def __post_init__(self) -> None:
        check_fields(self)
        require(3 <= self.n0 <= 8, "n0", self.n0, "outside the 3..8 flash frames the benchmark records",
                "use 3..8 (paper: 5)")
        require(self.experts >= 2 or self.mix == "single", "experts", self.experts,
                f"mix={self.mix!r} needs at least 2 experts", "use experts >= 2, or mix=single")
        require(self.depth_bins >= 2, "depth_bins", self.depth_bins, "must be >= 2", "use 256")
        require(self.width >= 4, "width", self.width, "must be >= 4", "use 64 (paper) or 8 (tiny)")
        require(self.image_size >= 16 and self.image_size % 16 == 0, "image_size", self.image_size,
                "not a positive multiple of 16", "use 256 (paper) or 64 (tiny)")
        require(1 <= self.levels <= 4, "levels", self.levels, "outside 1..4", "use 4 (paper) or 2 (tiny)")

    def has_type_gate(self) -> bool:
        """The attack-type gate (and its loss) exists only where it mixes the experts."""
        return self.mix == "gate"

    def reads_backbone(self) -> bool:
        """The CLIP encoder reads the backbone settings; the paper's CNN stem reads none."""
        return self.encoder == "clip"

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        unread = [] if self.has_type_gate() else ["gate_per_frame"]
        if self.mix == "single":  # one depth network: no expert count
            unread.append("experts")
        return all_but(self, *unread)
