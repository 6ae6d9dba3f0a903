"""``--plan``: every cell of a sweep, what it changes, what it holds, what will happen to it and what it costs,
printed before anything starts.

Pure: the caller says how a cell stands (``status``: train, resume, finished, reuse) from its checkpoint storage
and, read-only, from MLflow; nothing here starts Ray or writes anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pad_core.ablation.cost import estimate
from pad_core.ablation.spec import AblationSpec, Cell
from pad_core.config import RunCfg, from_flat, render_value, to_flat

STATUSES = ("train", "resume", "finished", "reuse")


@dataclass(frozen=True)
class CellPlan:
    cell: Cell
    status: str  # one of STATUSES, with its reason after a colon when known
    gpu_hours: float | None  # None: no throughput figure for the backbone
    basis: str = ""  # where the estimate's figures came from


def base_diff(spec: AblationSpec, cell: Cell) -> dict[str, str]:
    """The cell's effective config where it differs from the sweep's base (protocol and seed are columns)."""
    base = to_flat(from_flat({**spec.base, "data.protocol": cell.protocol, "train.seed": cell.seed}))
    mine = to_flat(cell.cfg)
    return {k: render_value(v) for k, v in mine.items() if render_value(base.get(k)) != render_value(v)}


def plan_cells(spec: AblationSpec, cells: list[Cell], status: Callable[[Cell], str],
               split_sizes: Callable[[Cell], tuple[int, int]]) -> list[CellPlan]:
    out = []
    for cell in cells:
        dev, test = split_sizes(cell)
        cost = estimate(cell.cfg, dev, test)
        out.append(CellPlan(cell, status(cell), cost.gpu_hours if cost else None, cost.basis if cost else ""))
    return out


GUESS_MARK = " [guess]"
RANDOM_INIT = "random init"


def weights_of(cfg: RunCfg) -> str:
    """Where the cell's pretrained parts come from: the open_clip tag or file of CLIP backbones, the ImageNet weights
    of torchvision-style baselines, or none (the model layer's rule, models/initial_weights.py::weights_key, imported
    on use)."""
    from pad_core.models.initial_weights import PRETRAINED, weights_key, weights_value
    from pad_core.models.torchvision_names import TORCHVISION, TV_BACKBONES, starts_random

    name, key, weights = cfg.backbone.name, weights_key(cfg), weights_value(cfg)
    if not key:
        return "none (no pretrained parts)"
    if key == PRETRAINED:
        return weights or RANDOM_INIT
    if starts_random(name, weights):  # "" or "torchvision" for a network torchvision publishes no weights of
        return RANDOM_INIT + (f" (torchvision has no {name} weights)" if weights else "")
    return f"torchvision {TV_BACKBONES.get(name).imagenet}" if weights == TORCHVISION else weights


def render_plan(spec: AblationSpec, plans: list[CellPlan], resources: str) -> str:
    """The plan as text: the base (values the paper does not give marked as guesses), one line per cell with the
    weights it starts from, totals and the estimate's basis."""
    base = to_flat(from_flat(spec.base))
    lines = [f"Plan of sweep {spec.name!r}: {spec.title}",
             f"  {len(spec.rows)} rows x {len(spec.protocols)} protocols x {len(spec.seeds)} seeds = {len(plans)} "
             f"cells; each holds {resources}",
             "  base: " + ", ".join(f"{k}={render_value(base[k])}{GUESS_MARK * (k in spec.guesses)}"
                                    for k in _headline_keys(base)), *_guess_lines(spec, base), ""]
    width = max([len(weights_of(p.cell.cfg)) for p in plans] + [len("weights")])
    header = (f"  {'row':<18} {'protocol':<9} {'seed':>4}  {'status':<10} {'GPU-h':>7}  {'weights':<{width}}  "
              "config vs base")
    lines += [header, "  " + "-" * (len(header) + 20)]
    for p in plans:
        delta = base_diff(spec, p.cell)
        hours = f"{p.gpu_hours:7.2f}" if p.gpu_hours is not None else "      ?"
        shown = ", ".join(f"{k}={v}" for k, v in delta.items()) or "(the base)"
        lines.append(f"  {p.cell.row.name:<18} {p.cell.protocol:<9} {p.cell.seed:>4}  {p.status:<10} {hours}  "
                     f"{weights_of(p.cell.cfg):<{width}}  {shown}")
    lines += ["", *_totals(plans)]
    basis = {p.basis for p in plans if p.gpu_hours is not None}
    lines += [f"  estimate basis: {b}" for b in sorted(basis)]
    unknown = sorted({f"{p.cell.cfg.family}/{p.cell.cfg.backbone.name}" for p in plans if p.gpu_hours is None})
    if unknown:
        lines.append(f"  no throughput figure for {unknown} (shown as ?): measure it (bench/gpu_throughput.py) and add "
                     "it to pad_core/ablation/cost.py")
    return "\n".join(lines)


def _guess_lines(spec: AblationSpec, base: dict) -> list[str]:
    """One line per value of the base that the paper does not give, with why it was chosen."""
    if not spec.guesses:
        return []
    return ["  guesses (the paper does not give these values; docs/SCHEDULES.md):",
            *(f"    {k}={_short(render_value(base[k]))}: {why}" for k, why in sorted(spec.guesses.items())
              if k in base)]


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _totals(plans: list[CellPlan]) -> list[str]:
    counts = {s: sum(p.status.split(":")[0] == s for p in plans) for s in STATUSES}
    todo = [p for p in plans if p.status.split(":")[0] in ("train", "resume")]
    hours = sum(p.gpu_hours or 0.0 for p in todo)
    return ["  " + ", ".join(f"{n} {s}" for s, n in counts.items() if n),
            f"  estimated GPU-hours to run: {hours:.2f} (cells to train or resume; a resumed cell counted whole)"]


def _headline_keys(flat: dict) -> list[str]:
    keys = ("family", "backbone.name", "backbone.pretrained", "moe.kind", "data.manifest", "data.batch_size",
            "train.steps", "train.eval_every", "train.precision", "optim.name", "optim.lr", "optim.weight_decay",
            "data.num_workers")
    return [k for k in keys if k in flat]
