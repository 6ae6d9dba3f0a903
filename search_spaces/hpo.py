"""Define-by-run Optuna spaces for ``sweeps/hpo.py``, one per method family, registered by name.

Each space draws a parameter only where it acts (conditional on earlier draws): top-k only for routed
(SUE) experts, heads only for MoAE, DM/CDM weights only when class regularisation is on, PEER keys only for
PEER experts, mask rates only for SoftMoE. Returned values are constants Optuna cannot draw directly
(tuples of per-expert rates). Parameter names are flat config keys; raw draws that are not config keys
are named ``search.*``. Ablation rows are never parameters here: rows are walked as a grid by the
sweep files; a search tunes one method's hyperparameters (``pad_core.integrations.search`` checks this).
"""

from __future__ import annotations

from typing import Any

from pad_core.ablation.search_spec import LrRange, SearchSpec
from pad_core.config import from_flat
from pad_core.config.reads import section_reads
from pad_core.registry import Registry
from search_spaces.atr_fas import ATR_BASE
from search_spaces.bigmoe import BIGMOE_BASE
from search_spaces.mmoe import MMOE_BASE, mask_rate_space
from search_spaces.moae_cr import MOAE_BASE
from search_spaces.suede import SUE, SUEDE_BASE

SPACES: Registry[SearchSpec] = Registry("search space")  # --space of sweeps/hpo.py


def hpo(name: str, base: dict[str, Any], space, protocol: str, lr: LrRange | None = None) -> SearchSpec:
    """The search of one method: its base, its space (``space(trial, lr_range=...)``), the protocol searched by
    default and the learning-rate range per scale (default: ``LrRange()``); recorded as ``<sweep>-<name>``."""
    return SearchSpec(title=f"HPO of {name}", base=base, space=space, protocol=protocol, lr=lr or LrRange(),
                      suffix=f"-{name}")


def reads(key: str, drawn: dict[str, Any]) -> bool:
    """Whether ``key`` is read after the draws so far: its own sub-config says (``reads``, pad_core/config/reads.py),
    so the spaces and the dead-toggle audit share one rule. A space tunes its own method, whose sections are in use;
    the rules asked here depend only on the draws given (moe.kind, loss.cr_mode, bigmoe.experts)."""
    return section_reads(from_flat(drawn), key)


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
    cr_mode = {"loss.cr_mode": trial.suggest_categorical("loss.cr_mode", ["off", "repaired"])}
    for key in ("loss.dm_w", "loss.cdm_w"):
        if reads(key, cr_mode):
            trial.suggest_float(key, 0.1, 2.0, log=True)
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
    experts = {"bigmoe.experts": trial.suggest_categorical("bigmoe.experts", ["peer", "ffn"])}
    choices = {"bigmoe.peer_keys": [16, 40, 64], "bigmoe.peer_topk": [1, 2, 4], "bigmoe.ffn_experts": [2, 4, 8]}
    for key, values in choices.items():
        if reads(key, experts):
            trial.suggest_categorical(key, values)
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
    kind = {"moe.kind": trial.suggest_categorical("moe.kind", ["soft", "moae", "sue"])}
    out: dict[str, Any] = {"loss.moe_cosine_w": 0.0, "moe.soft.mask_rates": ()}  # MMoE's parts act on SoftMoE only
    if reads("moe.soft", kind):
        rate = trial.suggest_float("search.mask_rate", 0.0, 0.6)
        out = {"moe.soft.mask_rates": (0.0, rate, rate, rate)}  # the base's cosine loss stays
    elif reads("moe.moae", kind):
        trial.suggest_categorical("moe.moae.heads", [1, 2, 4])
    elif reads("moe.sue", kind):
        trial.suggest_categorical("moe.sue.top_k", [1, 2])
    _optim(trial, lr_range)
    return out


SPACES.register("mmoe")(hpo("mmoe", MMOE_BASE, mmoe_space, "P1"))
SPACES.register("moae")(hpo("moae", {**MOAE_BASE, "moe.kind": "moae"}, moae_space, "P1"))
SPACES.register("suede")(hpo("suede", {**SUEDE_BASE, **SUE}, suede_space, "P1"))
SPACES.register("bigmoe")(hpo("bigmoe", BIGMOE_BASE, bigmoe_space, "P1.W", LrRange(paper=(1e-5, 1e-3))))
SPACES.register("atr")(hpo("atr", ATR_BASE, atr_space, "F1", LrRange(paper=(1e-5, 1e-3))))
SPACES.register("moe")(hpo("moe", MMOE_BASE, moe_kind_space, "P1"))
