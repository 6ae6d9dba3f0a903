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
from pad_core.config import from_flat, render_value, to_flat

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


def render_plan(spec: AblationSpec, plans: list[CellPlan], resources: str) -> str:
    """The plan as text: the base, one line per cell, totals and the estimate's basis."""
    base = to_flat(from_flat(spec.base))
    lines = [f"Plan of sweep {spec.name!r}: {spec.title}",
             f"  {len(spec.rows)} rows x {len(spec.protocols)} protocols x {len(spec.seeds)} seeds = {len(plans)} "
             f"cells; each holds {resources}",
             "  base: " + ", ".join(f"{k}={render_value(base[k])}" for k in _headline_keys(base)), ""]
    header = f"  {'row':<18} {'protocol':<9} {'seed':>4}  {'status':<10} {'GPU-h':>7}  config vs base"
    lines += [header, "  " + "-" * (len(header) + 20)]
    for p in plans:
        delta = base_diff(spec, p.cell)
        hours = f"{p.gpu_hours:7.2f}" if p.gpu_hours is not None else "      ?"
        shown = ", ".join(f"{k}={v}" for k, v in delta.items()) or "(the base)"
        lines.append(f"  {p.cell.row.name:<18} {p.cell.protocol:<9} {p.cell.seed:>4}  {p.status:<10} {hours}  {shown}")
    lines += ["", *_totals(plans)]
    basis = {p.basis for p in plans if p.gpu_hours is not None}
    lines += [f"  estimate basis: {b}" for b in sorted(basis)]
    unknown = sorted({f"{p.cell.cfg.family}/{p.cell.cfg.backbone.name}" for p in plans if p.gpu_hours is None})
    if unknown:
        lines.append(f"  no throughput figure for {unknown} (shown as ?): measure it (bench/gpu_throughput.py) and add "
                     "it to pad_core/ablation/cost.py")
    return "\n".join(lines)


def _totals(plans: list[CellPlan]) -> list[str]:
    counts = {s: sum(p.status.split(":")[0] == s for p in plans) for s in STATUSES}
    todo = [p for p in plans if p.status.split(":")[0] in ("train", "resume")]
    hours = sum(p.gpu_hours or 0.0 for p in todo)
    return ["  " + ", ".join(f"{n} {s}" for s, n in counts.items() if n),
            f"  estimated GPU-hours to run: {hours:.2f} (cells to train or resume; a resumed cell counted whole)"]


def _headline_keys(flat: dict) -> list[str]:
    keys = ("family", "backbone.name", "backbone.pretrained", "moe.kind", "data.manifest", "data.batch_size",
            "train.steps", "train.eval_every", "train.precision", "optim.name", "optim.lr", "data.num_workers")
    return [k for k in keys if k in flat]
