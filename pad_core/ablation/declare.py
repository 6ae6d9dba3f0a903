"""What every sweep declaration (``AblationSpec``, ``SearchSpec``) resolves from the command line the same way.

A sweep file declares its table as an :class:`~pad_core.ablation.spec.AblationSpec` and/or its search as a
:class:`~pad_core.ablation.search_spec.SearchSpec`, and hands their ``for_args`` to ``sweep_main``. ``for_args``
takes the parsed :class:`~pad_core.sweep_args.SweepArgs` and applies, through the functions here, ``--set`` and the
scale over the declared base, the declared sizes of the run's scale (:func:`for_scale`) unless a flag gives them
(:func:`given`), and the protocols (:func:`protocol_list`, :func:`search_protocol`).
"""

from __future__ import annotations

from typing import Any

from pad_core.config import DataCfg, is_paper_scale
from pad_core.errors import SweepError
from pad_core.sweep_args import SweepArgs


class PaperBase(dict):
    """A method's paper base: the flat config every row of its tables starts from (a plain dict to every consumer)
    plus ``guessed``, the keys whose value the paper does not give, each with why that value was chosen. ``--plan``
    marks them; docs/SCHEDULES.md lists them per paper. A guess must name a key the base sets: a guessed default
    left implicit would be invisible where a user reads the config."""

    def __init__(self, values: dict[str, Any], guessed: dict[str, str]) -> None:
        unset = sorted(set(guessed) - set(values))
        if unset:
            raise SweepError("guessed", unset, "guesses of keys the base does not set",
                             "set each guessed key in the base, with its value")
        super().__init__(values)
        self.guessed = dict(guessed)  # a plain dict: the base may be pickled (Tune trial configs)


def live_guesses(base: dict[str, Any], effective: dict[str, Any]) -> dict[str, str]:
    """The guesses of ``base`` still in force in ``effective`` (the base after scale and ``--set``): a key set to
    another value is the user's choice, not the guess."""
    return {k: why for k, why in getattr(base, "guessed", {}).items() if effective.get(k) == base[k]}


SMOKE_SEEDS = (0,)  # --smoke-test trains one seed (what the command line names is kept)


def for_scale(args: SweepArgs, *, smoke, paper, demo):
    """The declared size for the run's scale: ``smoke`` with --smoke-test, else ``paper`` at the paper scales
    (paper, rehearsal), else ``demo``."""
    return smoke if args.smoke_test else paper if is_paper_scale(args.scale) else demo


def base_for(base: dict[str, Any], args: SweepArgs) -> dict[str, Any]:
    """The declared base under the command line's overrides (scale, then flags, then --set), as a plain dict (the
    declared ``PaperBase`` keeps its guesses: ``live_guesses(declared, effective)``)."""
    return {**base, **args.overrides}


def given(value, default):
    """A flag's value, or ``default`` when the flag was not given (None): never for a falsy value such as 0 or an
    empty list, which the command line refuses instead of replacing."""
    return default if value is None else value


def protocol_list(requested, default, base: dict[str, Any]) -> tuple[str, ...]:
    """``--protocols`` (or the sweep's ``default``) with groups expanded to their members on the benchmark of
    ``base`` (P3 -> P3.1..P3.6, F -> F1..F10): the one path every sweep file takes. A protocol reached twice
    (P3,P3.1) is refused: it would train the same cells twice into the same runs."""
    from pad_core.data.protocols import load_benchmark  # the data layer (pandas): only once a sweep resolves

    benchmark = load_benchmark(base.get("data.benchmark", DataCfg.benchmark))
    names = [n.strip() for n in given(requested, default)]
    expanded = benchmark.expand(names)
    repeated = sorted({p for p in expanded if expanded.count(p) > 1})
    if repeated:
        groups = {g: m for g, m in benchmark.groups.items() if g in names}
        raise SweepError("--protocols", ",".join(names), f"protocols {repeated} are named more than once "
                         f"(groups include their members: {groups})",
                         f"name each protocol once, e.g. --protocols {','.join(dict.fromkeys(expanded))}")
    return tuple(expanded)


def search_protocol(args: SweepArgs, default: str, base: dict[str, Any]) -> str:
    """The one protocol a search runs in: ``--search-protocol``, else ``--protocols`` naming exactly one protocol,
    else ``default``. Several protocols (or a group) are refused: a search would silently use only the first."""
    if args.search_protocol is not None and args.protocols is not None:
        raise SweepError("--protocols", ",".join(args.protocols), "given with --search-protocol: a search runs in "
                         "one protocol, so one of them would be ignored", "give only --search-protocol")
    flag, requested = ("--search-protocol", [args.search_protocol]) if args.search_protocol is not None else \
        ("--protocols", args.protocols)
    protocols = protocol_list(requested, (default,), base)
    if len(protocols) != 1:
        raise SweepError(flag, ",".join(requested), f"names {len(protocols)} protocols {list(protocols)}: a search "
                         "runs in one", f"give one protocol, e.g. --search-protocol {protocols[0]}; walk several "
                         "protocols with --mode ablation")
    return protocols[0]


def paper_columns(numbers: dict[str, Any], metrics: tuple[str, ...], protocol: str = "") -> dict[str, dict[str, float]]:
    """The papers' numbers as table cells: ``{row: (acer, acc, ...)}`` on ``protocol``, or
    ``{row: {protocol: (acer, ...)}}``; a bare number is the first metric. Returns row -> column -> value."""
    out: dict[str, dict[str, float]] = {}
    for row, value in numbers.items():
        per_protocol = value if isinstance(value, dict) else {protocol: value}
        for proto, values in per_protocol.items():
            values = values if isinstance(values, tuple) else (values,)
            out.setdefault(row, {}).update({f"{proto} {m.upper()}": float(v) for m, v in zip(metrics, values)})
    return out
