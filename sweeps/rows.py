"""Any declared row list as an ablation sweep: the rows of a paper table (or your own) without a new file.

Runbook
  python sweeps/rows.py --rows search_spaces.suede:EXPERT_SETTING_ROWS --base search_spaces.suede:SUEDE_BASE
  python sweeps/rows.py --rows search_spaces.moae_cr:GRID_ROWS --base search_spaces.moae_cr:MOAE_BASE \\
      --protocols P1 --seeds 0,1,2
  python sweeps/rows.py --rows search_spaces.atr_fas:MIXING_ROWS --base search_spaces.atr_fas:ATR_BASE \
      --baseline dgm --protocols F                # ATR-FAS Table 3 over the ten folds F1..F10
  python sweeps/rows.py --rows search_spaces.bigmoe:SYNERGY_ROWS --base search_spaces.bigmoe:BIGMOE_BASE \
      --baseline full --protocols P1,P2.no_depth
  python sweeps/rows.py --smoke-test            # the default table's baseline and last row, one seed

``--rows`` names a tuple of ``pad_core.ablation.Row`` (name, label, flat config delta); ``--base`` a flat dict
every row starts from (the benchmark, prompts, paper hyperparameters). Rows are walked as a grid, audited
before launch, recorded in MLflow, and the table is rebuilt from MLflow.
"""

# No `from __future__ import annotations`: the Flags dataclass keeps evaluated types, which dataclasses read
# without the module in sys.modules (tests and tools load sweep files by path).
import importlib
import os
import sys
from dataclasses import dataclass, field

from pad_core.ablation import AblationSpec, Row
from pad_core.errors import SweepError
from pad_core.integrations.cli import sweep_main
from pad_core.integrations.cli_inputs import check_name
from pad_core.sweep_args import SweepArgs

DEFAULT_ROWS, DEFAULT_BASE = "search_spaces.suede:EXPERT_SETTING_ROWS", "search_spaces.suede:SUEDE_BASE"


@dataclass(frozen=True)
class Flags:
    rows: str = field(default=DEFAULT_ROWS, metadata={"help": "module:ATTRIBUTE of a tuple of Row"})
    base: str = field(default=DEFAULT_BASE, metadata={"help": "module:ATTRIBUTE of the flat base config"})
    title: str | None = field(default=None, metadata={"help": "table caption (default: the row list's name)"})
    baseline: str = field(default="", metadata={
        "help": "row the others are compared with (default: 'clip' if declared, else the first row)"})


def load(ref: str):
    module, _, attr = ref.partition(":")
    if os.getcwd() not in sys.path:  # your own row lists, importable from where you run (or --working-dir)
        sys.path.insert(0, os.getcwd())
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise SweepError("--rows/--base", ref, f"cannot be imported ({err})",
                         "give module:ATTRIBUTE, e.g. search_spaces.suede:LAYER_ROWS") from None


def get_ablation(args: SweepArgs) -> AblationSpec:
    own = args.own
    rows, base = load(own.rows), load(own.base)
    if not isinstance(rows, (tuple, list)) or not all(isinstance(r, Row) for r in rows):
        raise SweepError("--rows", own.rows, "not a tuple of pad_core.ablation.Row",
                         "point at e.g. search_spaces.suede:LAYER_ROWS, or declare Row(name, label, delta) items")
    if not isinstance(base, dict):
        raise SweepError("--base", own.base, "not a dict of flat config keys", "point at e.g. "
                         "search_spaces.suede:SUEDE_BASE, a {'key': value} dict")
    for row in rows:  # row names go into MLflow filter strings (pad.cell) and run names, like sweep names
        check_name(f"--rows {own.rows}: row", row.name)
    baseline = own.baseline or next((r.name for r in rows if r.name == "clip"), "")
    sweep = AblationSpec(title=own.title or own.rows.split(":")[-1], rows=tuple(rows), base=base,
                         protocols=(base.get("data.protocol", "P1"),), baseline=baseline)
    return sweep.for_args(args)


if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=get_ablation, flags=Flags)
