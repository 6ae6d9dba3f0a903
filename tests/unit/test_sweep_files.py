"""Every sweep file declares a valid grid: rows, protocols (groups expanded), seeds, baseline and metrics."""

import argparse
import importlib.util
from pathlib import Path

import pytest

from pad_core.ablation import TableSpec
from pad_core.ablation.declare import GridSweep

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
DECLARED = sorted(p.stem for p in SWEEPS.glob("*.py") if "SWEEP = GridSweep(" in p.read_text())


def load(name: str) -> GridSweep:
    spec = importlib.util.spec_from_file_location(name, SWEEPS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SWEEP


def args(smoke: bool, scale: str = "demo", **kw) -> argparse.Namespace:
    return argparse.Namespace(name="t", smoke_test=smoke, scale=scale, protocols=None, seeds=None, overrides={}, **kw)


def test_every_paper_table_has_a_sweep_file():
    assert len(DECLARED) >= 16  # + mask_rates.py (grid and search) and rows.py (any row list)


@pytest.mark.parametrize("name", DECLARED)
def test_declaration_expands_and_validates(name):
    sweep = load(name)
    full, smoke = sweep.spec(args(False)), sweep.spec(args(True))
    assert len(full.cells()) == len(sweep.rows) * len(full.protocols) * 2
    assert len(smoke.cells()) == 2 and smoke.baseline_row == (sweep.baseline or sweep.rows[0].name)
    table = TableSpec.from_json(full.describe())
    assert table.metrics == list(sweep.metrics)
    columns = table.columns()
    for group, members in table.groups.items():  # every declared group gets its aggregate column after its members
        assert columns.index(group) > max(columns.index(m) for m in members)
    assert sweep.spec(args(False, "paper")).seeds == (0, 1, 2)


def test_group_protocols_expand_to_members():
    atr = load("atr_mixing").spec(args(False))
    assert atr.protocols == tuple(f"F{i}" for i in range(1, 11))
    backbones = TableSpec.from_json(load("mmoe_backbones").spec(args(False)).describe())
    assert backbones.columns() == ["P1", "P2", "P3.1", "P3.2", "P3.3", "P3.4", "P3.5", "P3.6", "P3"]
