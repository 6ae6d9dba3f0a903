"""Every sweep file declares a valid grid: rows, protocols (groups expanded), seeds, baseline and metrics."""

import importlib.util
from pathlib import Path

import pytest

from pad_core.ablation import AblationSpec, TableView
from pad_core.sweep_args import SweepArgs

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
DECLARED = sorted(p.stem for p in SWEEPS.glob("*.py") if "SWEEP = AblationSpec(" in p.read_text())


def load(name: str) -> AblationSpec:
    spec = importlib.util.spec_from_file_location(name, SWEEPS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SWEEP


def args(smoke: bool, scale: str = "demo", **kw) -> SweepArgs:
    return SweepArgs(name="t", smoke_test=smoke, scale=scale, overrides={}, **kw)


def test_every_paper_table_has_a_sweep_file():
    assert len(DECLARED) >= 20  # + mask_rates.py (grid and search) and rows.py (any row list)
    assert {"moae_uniattack", "moae_jfsfdb", "suede_uniattack", "suede_jfsfdb"} <= set(DECLARED)


@pytest.mark.parametrize("name", [n for n in DECLARED if load(n).paper])
def test_paper_numbers_sit_in_cells_the_table_has(name):
    """A paper number under a row, protocol column or metric the table does not have would vanish from the printed
    reference table without a word: every one must land in a declared row and one of the table's columns."""
    sweep = load(name)
    table = TableView.from_json(sweep.for_args(args(False)).describe())
    cells = {f"{col} {metric.upper()}" for col in table.columns() for metric in table.metrics}
    assert set(sweep.paper) <= {r.name for r in sweep.rows}
    assert {c for row in sweep.paper.values() for c in row} <= cells


def test_new_tables_carry_the_papers_numbers():
    swap = load("moae_loss_swap").paper
    assert "eer" in load("moae_loss_swap").metrics and swap["npair"]["P2 EER"] == 18.66
    assert "P2 EER" not in swap["supcon"] and swap["supcon"]["P2 AUC"] == 84.77  # lost in the source text
    backbones = load("mmoe_backbones").paper
    assert all({"P1 ACER", "P2 EER", "P3 AUC"} <= set(row) for row in backbones.values())
    assert backbones["mmoe"]["P3.4 EER"] == 11.94 and "P3.4 ACC" not in backbones["mmoe"]
    assert load("moae_uniattack").paper["moae_cr"]["P2 ACER"] == 15.13
    assert load("suede_uniattack").paper["suede"]["P2 EER"] == 11.89
    assert load("moae_jfsfdb").paper["moae_cr"] == {"joint.intra ACER": 4.40, "joint.intra ACC": 95.33,
                                                    "joint.intra AUC": 98.97, "joint.intra EER": 4.66}
    assert load("suede_jfsfdb").paper["meso4"]["joint.cross TPR_AT_FPR_0.01"] == 5.77


def test_tpr_columns_are_metrics_the_evaluation_logs():
    import numpy as np

    from pad_core.config import EvalCfg
    from pad_core.metrics.report import threshold_free
    from pad_core.metrics.thresholds import ScoreSet

    scores = ScoreSet(split="test", scores=np.array([0.1, 0.9, 0.2, 0.8]), labels=np.array([0, 1, 0, 1]),
                      species=np.array(["print", "live", "print", "live"]))
    assert set(load("suede_jfsfdb").metrics) <= set(threshold_free(scores, EvalCfg()))


@pytest.mark.parametrize("name", DECLARED)
def test_declaration_expands_and_validates(name):
    sweep = load(name)
    full, smoke = sweep.for_args(args(False)), sweep.for_args(args(True))
    assert len(full.cells()) == len(sweep.rows) * len(full.protocols) * 2
    assert len(smoke.cells()) == 2 and smoke.baseline_row == (sweep.baseline or sweep.rows[0].name)
    table = TableView.from_json(full.describe())
    assert table.metrics == list(sweep.metrics)
    columns = table.columns()
    for group, members in table.groups.items():  # every declared group gets its aggregate column after its members
        assert columns.index(group) > max(columns.index(m) for m in members)
    assert sweep.for_args(args(False, "paper")).seeds == (0, 1, 2)


def test_group_protocols_expand_to_members():
    atr = load("atr_mixing").for_args(args(False))
    assert atr.protocols == tuple(f"F{i}" for i in range(1, 11))
    backbones = TableView.from_json(load("mmoe_backbones").for_args(args(False)).describe())
    assert backbones.columns() == ["P1", "P2", "P3.1", "P3.2", "P3.3", "P3.4", "P3.5", "P3.6", "P3"]
