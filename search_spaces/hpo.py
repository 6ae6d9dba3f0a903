"""Define-by-run Optuna spaces for ``sweeps/hpo.py``, one per method family, registered by name.

Each space draws a parameter only where it acts (conditional on earlier draws): top-k only for routed
(SUE) experts, heads only for MoAE, DM/CDM weights only when class regularisation is on, PEER keys only for
PEER experts, mask rates only for SoftMoE. Returned values are constants Optuna cannot draw directly
(tuples of per-expert rates). Parameter names are flat config keys; raw draws that are not config keys
are named ``search.*``. Ablation rows are never parameters here: rows are walked as a grid by the
sweep files; a search tunes one method's hyperparameters (``pad_core.integrations.search`` checks this).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pad_core.registry import Registry
from search_spaces.atr_fas import ATR_BASE
from search_spaces.bigmoe import BIGMOE_BASE
from search_spaces.mmoe import MMOE_BASE, mask_rate_space
from search_spaces.moae_cr import MOAE_BASE
from search_spaces.suede import SUE, SUEDE_BASE


@dataclass(frozen=True)
class HpoSpace:
    base: dict[str, Any]  # flat config the search starts from (benchmark, method)
    space: Callable  # define-by-run: space(trial, lr_range=...) -> constants
    protocol: str  # protocol searched by default
    paper_lr: tuple[float, float] = (3e-7, 3e-5)  # lr range at the paper scale (pretrained CLIP)
    demo_lr: tuple[float, float] = (1e-4, 1e-3)  # lr range at the demo scale (fine-tuning the pretrained tiny CLIP)
    notes: dict[str, Any] = field(default_factory=dict)


SPACES: Registry[HpoSpace] = Registry("search space")


def _optim(trial, lr_range: tuple[float, float]) -> None:
    trial.suggest_float("optim.lr", *lr_range, log=True)
    trial.suggest_float("optim.weight_decay", 1e-6, 1e-2, log=True)


def mmoe_space(trial, *, lr_range: tuple[float, float]) -> dict[str, Any]:
    """MMoE: per-expert mask rates (expert 0 the unmasked reference), cosine-loss weight, optimiser."""
    rates = mask_rate_space(trial, lr_range=lr_range)
    trial.suggest_float("loss.moe_cosine_w", 0.01, 1.0, log=True)
    trial.suggest_float("optim.weight_decay", 1e-6, 1e-2, log=True)
    return rates


def moae_space(trial, *, lr_range: tuple[float, float]) -> dict[str, Any]:
    """MoAE-CR: experts, heads (divisors of every supported width), class regularisation and its weights."""
    trial.suggest_categorical("moe.moae.num_experts", [2, 4, 8])
    trial.suggest_categorical("moe.moae.heads", [1, 2, 4, 8])
    if trial.suggest_categorical("loss.cr_mode", ["off", "repaired"]) != "off":
        trial.suggest_float("loss.dm_w", 0.1, 2.0, log=True)
        trial.suggest_float("loss.cdm_w", 0.1, 2.0, log=True)
    _optim(trial, lr_range)
    return {}


def suede_space(trial, *, lr_range: tuple[float, float]) -> dict[str, Any]:
    """SUEDE: routed experts and top-k (only routed experts have a k), placement, balance-loss weight."""
    trial.suggest_categorical("moe.sue.num_routed", [2, 4, 6, 8])
    trial.suggest_categorical("moe.sue.top_k", [1, 2])
    trial.suggest_categorical("moe.layers", ["later", "all"])
    trial.suggest_float("loss.balance_w", 1e-3, 1e-1, log=True)
    _optim(trial, lr_range)
    return {}


def bigmoe_space(trial, *, lr_range: tuple[float, float]) -> dict[str, Any]:
    """BIG-MoE: PEER keys and top-k only for PEER experts, the expert count only for FFN experts; CDC θ,
    modality drop."""
    if trial.suggest_categorical("bigmoe.experts", ["peer", "ffn"]) == "peer":
        trial.suggest_categorical("bigmoe.peer_keys", [16, 40, 64])
        trial.suggest_categorical("bigmoe.peer_topk", [1, 2, 4])
    else:
        trial.suggest_categorical("bigmoe.ffn_experts", [2, 4, 8])
    trial.suggest_float("bigmoe.cdc_theta", 0.0, 0.9)
    trial.suggest_float("bigmoe.modality_drop", 0.0, 0.5)
    _optim(trial, lr_range)
    return {}


def atr_space(trial, *, lr_range: tuple[float, float]) -> dict[str, Any]:
    """ATR-FAS: N0, the depth and type-gate loss weights (the paper's λs are unknown), optimiser."""
    trial.suggest_int("atr.n0", 3, 8)
    trial.suggest_float("loss.depth_w", 0.1, 10.0, log=True)
    trial.suggest_float("loss.gate_w", 0.1, 10.0, log=True)
    _optim(trial, lr_range)
    return {}


def moe_kind_space(trial, *, lr_range: tuple[float, float]) -> dict[str, Any]:
    """Which MoE layer at all (a method search, not an ablation: unequal budgets across kinds are the point),
    each with its own conditional parameters."""
    kind = trial.suggest_categorical("moe.kind", ["soft", "moae", "sue"])
    out: dict[str, Any] = {"loss.moe_cosine_w": 0.0, "moe.soft.mask_rates": ()}  # MMoE's parts act on SoftMoE only
    if kind == "soft":
        rate = trial.suggest_float("search.mask_rate", 0.0, 0.6)
        out = {"moe.soft.mask_rates": (0.0, rate, rate, rate)}  # the base's cosine loss stays
    elif kind == "moae":
        trial.suggest_categorical("moe.moae.heads", [1, 2, 4])
    else:
        trial.suggest_categorical("moe.sue.top_k", [1, 2])
    _optim(trial, lr_range)
    return out


SPACES.register("mmoe")(HpoSpace(MMOE_BASE, mmoe_space, "P1"))
SPACES.register("moae")(HpoSpace({**MOAE_BASE, "moe.kind": "moae"}, moae_space, "P1"))
SPACES.register("suede")(HpoSpace({**SUEDE_BASE, **SUE}, suede_space, "P1"))
SPACES.register("bigmoe")(HpoSpace(BIGMOE_BASE, bigmoe_space, "P1.W", paper_lr=(1e-5, 1e-3)))
SPACES.register("atr")(HpoSpace(ATR_BASE, atr_space, "F1", paper_lr=(1e-5, 1e-3)))
SPACES.register("moe")(HpoSpace(MMOE_BASE, moe_kind_space, "P1"))
