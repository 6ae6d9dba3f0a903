"""What a search may draw, checked before any trial starts by sampling its define-by-run space dry.

A space is probed with a seeded random sampler (no training): every draw must name config keys (or raw
``search.*`` draws), build a valid config on the searched protocol, and never draw what defines a cell
(protocol, seed) or an ablation row (rows are walked as a grid with equal budgets; TPE + ASHA would give
them unequal budgets and the table would compare unequal things).
"""

from __future__ import annotations

from typing import Any

import optuna

from pad_core.config import CELL_AXES, all_keys, from_flat
from pad_core.errors import PadError, SweepError
from pad_core.integrations.trial import SEARCH_PREFIX
from pad_core.models import validate_model_cfg

ROW_NAMES = frozenset({"row", "rows", "pad.row", "ablation.row", "variant", "model.variant"})
PROBES = 24  # dry draws; enough to visit every branch of the spaces in search_spaces/hpo.py


def probe(space, probes: int = PROBES, seed: int = 0) -> list[tuple[dict[str, Any], dict, dict[str, Any]]]:
    """(drawn params, their distributions, returned constants) of ``probes`` random draws of ``space``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    draws = []
    for _ in range(probes):
        trial = study.ask()
        constants = space(trial) or {}
        draws.append((dict(trial.params), dict(trial.distributions), dict(constants)))
        study.tell(trial, 0.0)
    return draws


def check_names(params: dict[str, Any], distributions: dict, constants: dict[str, Any], rows: set[str]) -> None:
    known = set(all_keys())
    for name in [*params, *constants]:
        if name in CELL_AXES:
            raise SweepError("search space", name, "draws what defines a cell (protocol or seed)",
                             "search in one protocol (--search-protocol); fresh seeds come from --confirm-seeds")
        choices = set(map(str, getattr(distributions.get(name), "choices", ())))
        if name in ROW_NAMES or len(choices & rows) > 1:
            raise SweepError("search space", name, f"draws ablation rows {sorted(choices & rows) or ''}: "
                             "TPE and ASHA would give rows unequal budgets",
                             "walk rows as a grid (the sweep's --mode ablation, or sweeps/rows.py); "
                             "search the hyperparameters of one row")
        if not name.startswith(SEARCH_PREFIX) and name not in known:
            raise SweepError("search space", name, "is not a config key",
                             f"name a flat key (python -m pad_core keys), or prefix a raw draw with {SEARCH_PREFIX!r}")


def check_space(space, base: dict[str, Any], protocol: str, seed: int, rows: tuple[str, ...] = ()) -> int:
    """Raise SweepError naming the draw that is not allowed or not valid; return how many draws were checked."""
    draws = probe(space)
    for i, (params, distributions, constants) in enumerate(draws):
        check_names(params, distributions, constants, set(rows))
        drawn = {k: v for k, v in params.items() if not k.startswith(SEARCH_PREFIX)}
        try:
            validate_model_cfg(from_flat({**base, **drawn, **constants, "data.protocol": protocol,
                                          "train.seed": seed}))
        except PadError as err:
            raise SweepError(f"search space draw {i} ({err.key})", err.value, f"builds an invalid config: "
                             f"{err.problem}", f"narrow the space so every draw is valid: {err.fix}") from None
    return len(draws)
