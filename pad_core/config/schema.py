"""Frozen run configuration: one dataclass per concern, composed into :class:`RunCfg`.

Every field has a default and a one-line comment. Defaults are the papers' settings (docs/METHODS.md);
the tiny demo scale is a named override set in :mod:`pad_core.config.scales`. Flat dotted keys
(``moe.soft.mask_rates``) address every field for Tune, Optuna, MLflow and ``--set``.
Fields with ``metadata={"hash": False}`` say where or how fast a run goes, not what it computes,
and are left out of the config hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pad_core.config.family_schema import ATRCfg, BigMoECfg
from pad_core.config.fieldcheck import check_fields, require
from pad_core.config.moe_schema import MoECfg
from pad_core.config.reads import all_but, torchvision_backbone

NOHASH = {"hash": False}
# A field added after runs were recorded: hashed only when it differs from its default, so every config that was
# possible before it existed keeps its hash (and its finished cells stay reusable).
ADDED = {"hash": "unless_default"}
MAX_SEED = 2**32 - 1  # numpy's seed range; python, numpy and torch all take it (pad_core/engine/seed.py)


def require_seed(seed: int, key: str) -> None:
    require(0 <= seed <= MAX_SEED, key, seed, f"outside 0..{MAX_SEED}, numpy's seed range (seeding fails in the "
            "trial)", "use a seed such as 0, 1, 2")


@dataclass(frozen=True)
class BackboneCfg:
    name: str = "ViT-B-16-quickgelu"  # open_clip model name; OpenAI weights need the -quickgelu build (METHODS.md §1.1)
    pretrained: str = "openai"  # open_clip tag or local checkpoint path; "" = random init (tests, demo)
    # ImageNet weights of torchvision backbones (ResNet50 / ViT-B/16 rows): a local state-dict path, "torchvision"
    # = torchvision's standard cache file under $TORCH_HOME/hub/checkpoints (never downloaded), "" = random init
    imagenet_weights: str = field(default="torchvision", metadata=ADDED)
    norm_stats: Literal["clip", "imagenet"] = "clip"  # input normalisation (FLIP feeds ImageNet stats to CLIP)
    train_visual: bool = True  # update the image tower (FLIP lineage trains everything)
    train_text: bool = True  # update the text tower (MoAE-CR: yes); logit_scale always trains

    def __post_init__(self) -> None:
        check_fields(self)
        require(bool(self.name), "name", self.name, "empty model name", "give an open_clip model name")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """Torchvision networks load ``imagenet_weights`` and have no text tower; open_clip models load
        ``pretrained``, and train their text tower only where a CLIP-family prompt head encodes prompts with it."""
        if torchvision_backbone(self.name):
            return all_but(self, "pretrained", "train_text")
        text = cfg.family == "clip" and cfg.head.reads_text_tower()
        return all_but(self, "imagenet_weights", *(() if text else ("train_text",)))


@dataclass(frozen=True)
class HeadCfg:
    kind: Literal["prompt", "linear", "flip_v"] = "prompt"  # text prototypes / linear / FLIP-V bottleneck
    templates: tuple[str, ...] = ("This is an image of {} eye.",)  # MMoE's prompt; several are averaged (FLIP-IT)
    class_words: tuple[str, str] = ("fake", "live")  # words for (attack, bona fide); index = label
    attack_prompts: tuple[str, ...] = ()  # explicit attack sentences (FLIP-IT); () = templates x class word
    live_prompts: tuple[str, ...] = ()  # explicit bona fide sentences; set both or neither
    loss: Literal["ce2", "clip_symmetric"] = "ce2"  # 2-way CE (FLIP code) or the papers' symmetric CLIP loss

    def __post_init__(self) -> None:
        check_fields(self)
        require(len(self.templates) >= 1, "templates", self.templates, "no prompt template", "give >= 1 template")
        bad = [t for t in self.templates if t.count("{}") != 1]
        require(not bad, "templates", bad, "each template needs exactly one '{}'", "write e.g. 'a photo of {} eye'")
        require(bool(self.attack_prompts) == bool(self.live_prompts), "attack_prompts", self.attack_prompts,
                "explicit prompts are given for one class only", "set head.attack_prompts and head.live_prompts")
        require(self.loss == "ce2" or self.kind == "prompt", "loss", self.loss,
                f"the symmetric CLIP loss needs text prototypes, but head.kind={self.kind!r}",
                "use head.loss=ce2 or head.kind=prompt")

    def reads_text_tower(self) -> bool:
        """The prompt head encodes its prompts with CLIP's text tower; linear and FLIP-V heads read images only."""
        return self.kind == "prompt"

    def reads_projection(self) -> bool:
        """FLIP-V reads the image token before CLIP's projection; the other heads read the projected embedding."""
        return self.kind != "flip_v"

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        if not self.reads_text_tower():
            return all_but(self, "templates", "class_words", "attack_prompts", "live_prompts")
        if self.attack_prompts:  # explicit sentences replace templates x class words
            return all_but(self, "templates", "class_words")
        return all_but(self)


# The parameter each metric loss reads (pad_core/losses/metric.py); the others ignore both.
METRIC_PARAMS = {"supcon": ("metric_temperature",), "npair": (), "triplet": ("metric_margin",),
                 "hard_triplet": ("metric_margin",)}


@dataclass(frozen=True)
class LossCfg:
    cls_w: float = 1.0  # weight of the classification loss (ATR-FAS lambda_c: 1)
    moe_cosine_w: float = 0.0  # weight of L_mmoe, the expert cosine distance (MMoE Eq.6: 1.0); 0 = off
    router_z_w: float = 1e-3  # SUEDE alpha on the router z-loss (value lost in extraction; ST-MoE default)
    balance_w: float = 1e-2  # SUEDE beta on the load-balance loss (ST-MoE default)
    cr_mode: Literal["off", "literal", "repaired"] = "off"  # MoAE-CR class regularisation (METHODS.md §4(f))
    cr_t: float = 0.5  # DM threshold t on class-centre similarity
    dm_w: float = 1.0  # weight of the Disentanglement Module loss (MoAE-CR Eq.14: 1)
    cdm_w: float = 1.0  # weight of the Cluster Distillation Module loss (MoAE-CR Eq.14: 1)
    feature: Literal["embed_unnorm", "embed_norm", "cls"] = "embed_unnorm"  # features for CR / metric losses
    metric: Literal["none", "supcon", "npair", "triplet", "hard_triplet"] = "none"  # MoAE-CR Table 2 swaps
    metric_w: float = 1.0  # weight of the metric loss
    metric_margin: float = 0.3  # triplet margin (cosine distance)
    metric_temperature: float = 0.1  # supervised-contrastive temperature
    depth_w: float = 1.0  # ATR-FAS lambda_d on the per-frame 256-bin depth loss (not given; METHODS.md §5(f): 1)
    gate_w: float = 1.0  # ATR-FAS lambda_g on the attack-type gate loss; 0 = unsupervised gate (MEMM-RG rows)

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("cls_w", "moe_cosine_w", "router_z_w", "balance_w", "dm_w", "cdm_w", "metric_w", "metric_margin",
                     "depth_w", "gate_w"):
            require(getattr(self, name) >= 0, name, getattr(self, name), "negative", "use >= 0")
        require(self.metric_temperature > 0, "metric_temperature", self.metric_temperature, "must be > 0", "use 0.1")

    def batch_terms(self) -> dict[str, str]:
        """Batch-level terms this config adds, term -> the field holding its weight: DM and CDM with class
        regularisation on, one metric loss unless metric=none (computed by pad_core/losses/composite.py)."""
        terms = {"dm": "dm_w", "cdm": "cdm_w"} if self.cr_mode != "off" else {}
        if self.metric != "none":
            terms[f"metric_{self.metric}"] = "metric_w"
        return terms

    def reads_embed(self) -> bool:
        """Whether a batch term acts on the projected image embedding (``feature`` embed_*), not the class token."""
        return bool(self.batch_terms()) and self.feature != "cls"

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """Weights of terms the run computes: routing losses come from SUE layers only, depth and type-gate losses
        from ATR-FAS only (the gate loss where it has a type gate); batch terms and their parameters as configured."""
        terms, unread = self.batch_terms(), []
        if "dm" not in terms:
            unread += ["cr_t", "dm_w", "cdm_w"]
        if "metric_w" not in terms.values():
            unread.append("metric_w")
        stated = METRIC_PARAMS[self.metric] if self.metric != "none" else ()  # a new metric must state its parameter
        unread += sorted({"metric_margin", "metric_temperature"} - set(stated))
        if not terms:
            unread.append("feature")
        if cfg.moe.kind != "sue":
            unread += ["router_z_w", "balance_w"]
        if cfg.family != "atr":
            unread += ["depth_w", "gate_w"]
        elif not cfg.atr.has_type_gate():
            unread.append("gate_w")
        return all_but(self, *unread)


@dataclass(frozen=True)
class DataCfg:
    manifest: str = "synthetic:iris"  # manifest CSV/Parquet path or s3:// URI, or synthetic:<name>
    benchmark: str = "irisgeneral"  # protocol family the manifest belongs to
    protocol: str = "P1"  # protocol (or sub-protocol) to train and test on
    batch_size: int = 32  # global batch size, split evenly over Train workers
    sampler: Literal["balanced", "shuffle"] = "balanced"  # balanced: equal draws per (subset, label), as FLIP
    augment: bool = True  # horizontal flip + saturation jitter (FLIP)
    dev_fraction: float = 0.15  # share of train subjects carved out as dev when the manifest has no dev split
    synth_scale: float = 0.03  # synthetic benchmark size as a fraction of the real dataset's counts
    synth_size: int = 64  # synthetic image side in pixels
    synth_seed: int = 0  # synthetic benchmark generation seed
    # DataLoader worker processes per Train worker. 8 at paper scale: one loader core gives ~410 img/s at 224 px and
    # an A100 trains ViT-B/16 at ~1,200 img/s, so 1 worker would starve it (docs/BENCHMARKS.md §3).
    num_workers: int = field(default=8, metadata=NOHASH)
    # Unreadable image files found before training: fail with their list, skip them (count tagged on the run),
    # or leave them unchecked (huge remote datasets; a bad file then fails the step that reads it).
    on_corrupt: Literal["fail", "skip", "unchecked"] = "fail"
    # Files the preflight checks: 0 = all; N > 0 = N drawn with a fixed seed (a huge remote dataset: minutes instead
    # of an hour; a bad file outside the sample fails the step that reads it). Runtime-only, so not hashed.
    verify_sample: int = field(default=0, metadata=NOHASH)
    # Preflight overrides (pad_core/data/checks.py) for a protocol that shares data across its splits on purpose: the
    # same image file/content, or the same subject, in two of train/dev/test; manifest values (a subset name) that no
    # protocol of the benchmark selects. They change what is refused, never what a run computes: not hashed.
    allow_overlap: bool = field(default=False, metadata=NOHASH)
    allow_subject_overlap: bool = field(default=False, metadata=NOHASH)
    allow_unselected: bool = field(default=False, metadata=NOHASH)
    allow_missing_values: bool = field(default=False, metadata=NOHASH)  # protocol values with no row (notes list them)

    def __post_init__(self) -> None:
        check_fields(self)
        require(self.batch_size >= 2, "batch_size", self.batch_size, "too small for both classes", "use >= 2")
        require(0.0 <= self.dev_fraction < 1.0, "dev_fraction", self.dev_fraction, "outside [0, 1)", "use 0.15")
        require(0.0 < self.synth_scale <= 1.0, "synth_scale", self.synth_scale, "outside (0, 1]", "use 0.02")
        require(self.synth_size >= 32, "synth_size", self.synth_size, "too small", "use >= 32")
        require_seed(self.synth_seed, "synth_seed")
        require(self.num_workers >= 0, "num_workers", self.num_workers, "negative", "use 0 or more")
        require(self.verify_sample >= 0, "verify_sample", self.verify_sample, "negative", "use 0 (all) or more")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """The synthetic generator's settings matter only to a synthetic:<name> manifest."""
        synthetic = self.manifest.startswith("synthetic:")
        return all_but(self) if synthetic else all_but(self, "synth_scale", "synth_size", "synth_seed")


@dataclass(frozen=True)
class OptimCfg:
    name: Literal["adam", "adamw", "sgd"] = "adam"  # optimiser (all CLIP papers: Adam)
    lr: float = 1e-6  # learning rate (MMoE, MoAE-CR, FLIP: 1e-6)
    weight_decay: float = 1e-6  # FLIP schedule (MMoE does not say)
    betas: tuple[float, float] = (0.9, 0.999)  # Adam betas
    warmup_steps: int = 0  # linear warm-up steps
    schedule: Literal["constant", "cosine", "exponential"] = "constant"  # lr schedule after warm-up
    decay_gamma: float = 0.95  # exponential: lr x gamma every decay_steps (ATR-FAS: rate not given, §5(f): 0.95)
    decay_steps: int = 1000  # exponential: optimiser steps per decay (ATR-FAS: one epoch)
    # torch kernel of the update: fused (one kernel for all tensors: fastest, docs/BENCHMARKS.md §2), foreach, or
    # single (a loop over tensors; torch's CPU default). The same update up to float rounding, so not hashed.
    impl: Literal["fused", "foreach", "single"] = field(default="fused", metadata=NOHASH)

    def __post_init__(self) -> None:
        check_fields(self)
        require(self.lr > 0, "lr", self.lr, "must be > 0", "use e.g. 1e-6 (pretrained) or 1e-3 (random init)")
        require(self.weight_decay >= 0, "weight_decay", self.weight_decay, "negative", "use >= 0")
        bad = [b for b in self.betas if not 0.0 <= b < 1.0]  # torch refuses them when the trial builds the optimiser
        require(not bad, "betas", self.betas, f"{bad} outside [0, 1) (Adam's decay rates; betas[0] is SGD's "
                "momentum)", "use e.g. (0.9, 0.999)")
        require(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, "negative", "use >= 0")
        require(0 < self.decay_gamma <= 1, "decay_gamma", self.decay_gamma, "outside (0, 1]", "use 0.95")
        require(self.decay_steps >= 1, "decay_steps", self.decay_steps, "must be >= 1", "use e.g. the steps per epoch")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        exponential = self.schedule == "exponential"
        return all_but(self) if exponential else all_but(self, "decay_gamma", "decay_steps")


@dataclass(frozen=True)
class TrainCfg:
    steps: int = 4000  # optimiser steps (FLIP schedule: 4000 iterations)
    eval_every: int = 100  # steps between dev evaluations, reports and checkpoints
    seed: int = field(default=0, metadata=NOHASH)  # seed of init, sampling and masks; a cell axis, not hashed
    select: Literal["best_dev", "last"] = "best_dev"  # which weights are tested: best dev EER, or the last
    grad_clip: float = 0.0  # max global grad norm; 0 = off
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 autocast on CUDA and CPU (routers stay fp32); fp32 = none
    max_minutes: float = field(default=0.0, metadata=NOHASH)  # wall-clock budget per trial; 0 = none
    # wall-clock checkpoint cadence: an evaluation writes one only if this many minutes passed since the last
    # (the last step always does); 0 = every evaluation. Runtime-only: a resumed run is identical either way
    checkpoint_minutes: float = field(default=0.0, metadata=NOHASH)
    # CPU: glibc keeps freed memory for the next step (pad_core/engine/heap.py); False = glibc's default
    cpu_heap_reuse: bool = field(default=True, metadata=NOHASH)

    def __post_init__(self) -> None:
        check_fields(self)
        require_seed(self.seed, "seed")
        require(self.steps >= 1, "steps", self.steps, "must be >= 1", "use e.g. 4000")
        require(self.eval_every >= 1, "eval_every", self.eval_every, "must be >= 1", "use e.g. 100")
        require(self.grad_clip >= 0, "grad_clip", self.grad_clip, "negative", "use 0 (off) or > 0")
        require(self.max_minutes >= 0, "max_minutes", self.max_minutes, "negative", "use 0 (no budget) or minutes > 0")
        require(self.checkpoint_minutes >= 0, "checkpoint_minutes", self.checkpoint_minutes, "negative",
                "use 0 (every evaluation) or minutes > 0")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        return all_but(self)


@dataclass(frozen=True)
class EvalCfg:
    threshold_policy: Literal["protocol", "dev_eer", "test_eer", "fixed"] = "protocol"  # "protocol": its default
    fixed_threshold: float = 0.5  # tau for policy "fixed" (FLIP calculate(): 0.5)
    apcer_mode: Literal["pooled", "max"] = "pooled"  # APCER inside ACER: pooled attacks (papers) or ISO max
    tpr_positive: Literal["live", "attack"] = "live"  # positive class of TPR@FPR (logged with it)
    tpr_at_fpr: tuple[float, ...] = (0.01, 0.1)  # FPR budgets for TPR@FPR ("at most")
    batch_size: int = field(default=128, metadata=NOHASH)  # evaluation batch size
    score_level: Literal["protocol", "frame", "video"] = field(default="protocol", metadata=ADDED)  # unit of metrics
    # dev_eer/test_eer threshold: on a score (today) or bob.measure's midpoint to the next lower score (fixed: unused)
    threshold_placement: Literal["score", "midpoint"] = field(default="score", metadata=ADDED)

    def __post_init__(self) -> None:
        check_fields(self)
        require(0.0 <= self.fixed_threshold <= 1.0, "fixed_threshold", self.fixed_threshold, "outside [0, 1]",
                "use a probability, e.g. 0.5")
        bad = [x for x in self.tpr_at_fpr if not 0 < x < 1]
        require(not bad, "tpr_at_fpr", self.tpr_at_fpr, f"budgets {bad} outside (0, 1)", "use e.g. (0.01, 0.1)")
        names = [f"tpr_at_fpr_{x:g}" for x in self.tpr_at_fpr]  # the metric names (pad_core/metrics/report.py)
        twice = sorted({n for n in names if names.count(n) > 1})
        require(not twice, "tpr_at_fpr", self.tpr_at_fpr, f"budgets listed twice: metrics {twice} would stand for "
                "two of them", "list each budget once")
        require(self.batch_size >= 1, "batch_size", self.batch_size, "must be >= 1", "use e.g. 128")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """A given tau (policy fixed) is placed nowhere, and a tau found on the test set splits it alike at either
        placement; only the fixed policy reads the given tau."""
        unread = [] if self.threshold_policy == "fixed" else ["fixed_threshold"]
        if self.threshold_policy in ("fixed", "test_eer"):
            unread.append("threshold_placement")
        return all_but(self, *unread)


@dataclass(frozen=True)
class RunCfg:
    family: Literal["clip", "bigmoe", "atr"] = "clip"  # CLIP + MoE layers (MMoE, MoAE-CR, SUEDE), BIG-MoE, ATR-FAS
    backbone: BackboneCfg = field(default_factory=BackboneCfg)  # open_clip backbone
    moe: MoECfg = field(default_factory=MoECfg)  # MoE layers and where they go
    head: HeadCfg = field(default_factory=HeadCfg)  # prompt head and its loss
    bigmoe: BigMoECfg = field(default_factory=BigMoECfg)  # BIG-MoE (family=bigmoe)
    atr: ATRCfg = field(default_factory=ATRCfg)  # ATR-FAS (family=atr)
    loss: LossCfg = field(default_factory=LossCfg)  # auxiliary loss weights
    data: DataCfg = field(default_factory=DataCfg)  # manifest, protocol, batching
    optim: OptimCfg = field(default_factory=OptimCfg)  # optimiser
    train: TrainCfg = field(default_factory=TrainCfg)  # schedule, seed, selection
    eval: EvalCfg = field(default_factory=EvalCfg)  # thresholds and metric conventions

    def __post_init__(self) -> None:
        check_fields(self)
        require(self.loss.moe_cosine_w == 0 or self.moe.kind == "soft", "loss.moe_cosine_w", self.loss.moe_cosine_w,
                f"the cosine loss needs SoftMoE experts, but moe.kind={self.moe.kind!r}",
                "set moe.kind=soft or loss.moe_cosine_w=0")
        require(self.moe.tower == "visual" or self.moe.kind in ("none", "sue"), "moe.tower", self.moe.tower,
                f"only SUE layers are placed in the text tower, but moe.kind={self.moe.kind!r}",
                "use moe.tower=visual, or moe.kind=sue")
        require(self.family == "clip" or self.moe.kind == "none", "moe.kind", self.moe.kind,
                f"family={self.family!r} brings its own experts", "set moe.kind=none, or family=clip")
        require(self.train.eval_every <= self.train.steps, "train.eval_every", self.train.eval_every,
                f"larger than train.steps={self.train.steps}", "use eval_every <= steps")
        require(self.optim.warmup_steps <= self.train.steps, "optim.warmup_steps", self.optim.warmup_steps,
                f"longer than train.steps={self.train.steps}: the learning rate would never reach optim.lr",
                "use warmup_steps <= steps")

    def reads(self, cfg: RunCfg) -> frozenset[str]:
        """Sections a run reads (``cfg`` is this config): a family's own section only in that family; MoE layers and
        the CLIP head only in the CLIP family (BIG-MoE and ATR-FAS bring their own experts and a linear classifier),
        and no MoE on a torchvision backbone; no backbone for ATR-FAS's own CNN encoder. pad_core/config/reads.py
        walks these statements down to the flat keys."""
        unread = [family for family in ("bigmoe", "atr") if self.family != family]
        if self.family != "clip":
            unread += ["moe", "head"]
        elif torchvision_backbone(self.backbone.name):
            unread.append("moe")
        if self.family == "atr" and not self.atr.reads_backbone():
            unread.append("backbone")
        return all_but(self, *unread)
