"""Golden files for the paper-table compiler, rebuilt from a real MLflow store (SQLite, the server's backend)
that a fixture fills through the same ``SweepRecord`` the sweeps use: 3 rows x 2 sub-protocols x 3 seeds of
the MoAE-CR experts x heads grid on the UniAttackData-shaped benchmark, plus the runs a table must not use.

Set ``PADSWEEP_UPDATE_GOLDEN=1`` to rewrite the files after an intended format change (and review the diff).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Metric

from pad_core.ablation import AblationSpec, Row
from pad_core.ablation.declare import paper_columns
from pad_core.errors import SweepError
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.publish import publish_table, rebuild_table
from pad_core.metrics.pad import auc, decision_metrics
from pad_core.metrics.report import metric_key
from search_spaces.moae_cr import CR, MOAE_BASE

GOLDEN = Path(__file__).parents[1] / "golden"
CODE = "code-golden"
ROWS = tuple(Row(f"e{e}h{h}", f"{e} experts, {h} heads", {**CR, "moe.moae.num_experts": e, "moe.moae.heads": h})
             for e, h in ((4, 2), (2, 2), (2, 4)))
SPEC = AblationSpec(name="golden", title="MoAE-CR Table 5 (golden)", rows=ROWS, protocols=("P2.1", "P2.2"),
                    seeds=(0, 1, 2), base=MOAE_BASE, baseline="e4h2", metrics=("acer", "auc"),
                    grid=("moe.moae.num_experts", "moe.moae.heads"),
                    paper=paper_columns({"e4h2": {"P2.1": (0.37, 99.97), "P2": (0.5, 99.5)}, "e2h2": 0.9},
                                        ("acer", "auc"), "P2.2"))
MISSING = ("e2h4", "P2.2", 2)  # this cell's run failed: the table must flag (n=2/3)
OLDER = "e2h4"  # this row's runs predate scores.csv: its cells fall back to ±std (said in the footnote)
SUBJECTS, PER_SUBJECT = 30, 4  # test set of each protocol: 30 identities x 4 bona fide + 4 attack samples
SEPARATION = {"e4h2": 2.4, "e2h2": 1.7, "e2h4": 1.2}  # bona fide vs attack score gap: the rows' effect


def run_scores(row: str, protocol: str, seed: int) -> pd.DataFrame:
    """One run's test scores on its protocol's shared test set (same paths and subjects for every row and seed).
    A per-identity offset makes the samples of one subject agree: the bootstrap must resample subjects."""
    labels = np.tile(np.repeat([1, 0], PER_SUBJECT), SUBJECTS)
    subjects = np.repeat([f"{protocol}-id{s:02d}" for s in range(SUBJECTS)], 2 * PER_SUBJECT)
    offset = np.random.default_rng([int(protocol[-1]), 99]).normal(0, 0.8, SUBJECTS)  # fixed by the test set
    rng = np.random.default_rng([ROWS.index(next(r for r in ROWS if r.name == row)), int(protocol[-1]), seed])
    gap = SEPARATION[row] - 0.3 * int(protocol[-1])
    raw = gap * labels + np.repeat(offset, 2 * PER_SUBJECT) + rng.normal(0, 1.0, len(labels))
    return pd.DataFrame({"path": [f"{protocol}/img{i:03d}.png" for i in range(len(labels))], "subset": "golden",
                         "device": "cam", "attack_type": np.where(labels == 1, "live", "print"), "label": labels,
                         "subject": subjects, "split": "test", "score": 1 / (1 + np.exp(-raw))})


DEV_THRESHOLD = 0.55  # the runs' dev-EER threshold (dev scores are not part of this fixture)


def value(row: str, protocol: str, seed: int) -> tuple[float, float]:
    """The run's logged test ACER and AUC (fractions): computed from its scores as a run computes them (rows of
    older code log the same numbers without the scores)."""
    frame = run_scores(row, protocol, seed)
    scores, labels = frame["score"].to_numpy(), frame["label"].to_numpy()
    acer = decision_metrics(scores, labels, frame["attack_type"].to_numpy(), DEV_THRESHOLD)["acer"]
    return acer, auc(scores, labels)


def add_run(record: SweepRecord, parent_id: str, cell, *, code: str = CODE, config_hash: str | None = None,
            status: str = "FINISHED") -> None:
    tags = {"pad.row": cell.row.name, "pad.protocol": cell.protocol, "pad.seed": str(cell.seed),
            "pad.config_hash": config_hash or cell.config_hash, "pad.code_version": code, "pad.stage": "ablation",
            "pad.threshold_policy": "dev_eer"}
    key = cell.key + ("" if config_hash is None and code == CODE else f"|{code}|{config_hash}")
    child = record.child(parent_id, key, cell.run_name, tags, {"train.seed": str(cell.seed)})
    acer, auc_value = value(cell.row.name, cell.protocol, cell.seed)
    start = record.client.get_run(child.run_id).info.start_time
    logged = (("acer", acer), ("auc", auc_value), ("threshold", DEV_THRESHOLD))
    record.client.log_batch(child.run_id, metrics=[Metric(metric_key("test", cell.protocol, m), v, start, 0)
                                                    for m, v in logged])
    if cell.row.name != OLDER:
        log_scores(record, child.run_id, run_scores(cell.row.name, cell.protocol, cell.seed))
    if status == "FINISHED":
        record.finalize(child.run_id, status, "completed")
    else:
        record.finalize(child.run_id, status, "failed", "NonFiniteLoss: loss is nan at step 4")
    record.client.set_terminated(child.run_id, status, end_time=start + 1_800_000)  # 0.5 compute hours each


def log_scores(record: SweepRecord, run_id: str, frame: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        frame.to_csv(os.path.join(tmp, "scores.csv"), index=False)
        record.log_artifact(run_id, os.path.join(tmp, "scores.csv"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(record, parent id, tracking URI) of the filled store."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    record = SweepRecord(uri, "golden")
    parent_id = record.parent(SPEC.name, {"pad.stage": "ablation"})
    record.client.set_tag(parent_id, "pad.spec", SPEC.describe())
    record.client.set_tag(parent_id, "pad.code_version", CODE)
    cells = SPEC.cells()
    for cell in cells:
        add_run(record, parent_id, cell, status="FAILED" if (cell.row.name, cell.protocol, cell.seed) == MISSING
                else "FINISHED")
    add_run(record, parent_id, cells[0], config_hash="0123456789abcdef")  # a row changed since: left out
    return record, parent_id, uri


def normalized(text: str, parent_id: str) -> str:
    """Run ids are random and config hashes change with any schema default: neither belongs in a golden file."""
    hashes = {c.row.name: c.config_hash[:10] for c in SPEC.cells()}
    for row, h in hashes.items():
        text = text.replace(h, f"<hash:{row}>")
    return text.replace(parent_id, "<parent>")


def check_golden(name: str, text: str, parent_id: str) -> None:
    text = normalized(text, parent_id) + "\n"
    path = GOLDEN / name
    if os.environ.get("PADSWEEP_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; PADSWEEP_UPDATE_GOLDEN=1 rewrites it (review the diff)"


def test_markdown_latex_and_csv_match_the_golden_files(store):
    record, parent_id, _ = store
    rendered, summary, _, frame = rebuild_table(record, parent_id)
    assert len(frame) == 17  # 18 cells, one failed; the stale-hash run is left out
    check_golden("moae_grid.md", rendered.markdown, parent_id)
    check_golden("moae_grid.tex", rendered.latex, parent_id)
    check_golden("moae_grid.csv", rendered.frame.to_csv().rstrip("\n"), parent_id)
    check_golden("moae_grid_P2.csv", rendered.grids["P2"].to_csv().rstrip("\n"), parent_id)


def test_golden_numbers_are_the_fixture_statistics(store):
    """The golden file is not trusted blindly: its P2 group cell is recomputed here from the fixture values."""
    record, parent_id, _ = store
    rendered, *_ = rebuild_table(record, parent_id)
    means = [np.mean([100 * value("e2h2", p, s)[0] for s in (0, 1, 2)]) for p in ("P2.1", "P2.2")]
    line = rendered.frame.loc["2 experts, 2 heads"]
    assert line["P2 ACER"].startswith(f"{np.mean(means):.2f} [")  # shown with its bootstrap interval
    assert line["P2 ACER std"] == f"{np.std(means, ddof=1):.2f}"  # the seed spread stays in the CSV
    assert "(n=2/3)" in rendered.frame.loc["2 experts, 4 heads", "P2.2 ACER"]
    assert "1 finished run of undeclared configs left out" in rendered.markdown


def test_cli_prints_the_same_latex(store):
    record, parent_id, uri = store
    out = subprocess.run([sys.executable, "-m", "pad_core", "table", "--sweep", "golden", "--mlflow-uri", uri,
                          "--experiment", "golden", "--format", "latex"], capture_output=True, text=True, check=True)
    table = out.stdout.split("\n", 1)[1] if out.stdout.startswith("[padsweep]") else out.stdout
    assert normalized(table, parent_id) == (GOLDEN / "moae_grid.tex").read_text()


def test_runs_of_other_code_are_refused_unless_allowed(store, tmp_path):
    record, parent_id, uri = store
    other = SweepRecord(f"sqlite:///{tmp_path / 'm.db'}", "golden")
    other_parent = other.parent(SPEC.name, {})
    other.client.set_tag(other_parent, "pad.spec", SPEC.describe())
    other.client.set_tag(other_parent, "pad.code_version", CODE)
    cells = SPEC.cells()
    for cell in cells[:3]:
        add_run(other, other_parent, cell)
    add_run(other, other_parent, cells[3], code="code-older")
    with pytest.raises(SweepError, match="code-older.*--allow-mixed-code"):
        rebuild_table(other, other_parent)
    rendered, *_ = rebuild_table(other, other_parent, allow_mixed_code=True)
    assert "code code-golden, code-older" in rendered.markdown


def test_a_sweep_without_finished_runs_is_refused(tmp_path):
    record = SweepRecord(f"sqlite:///{tmp_path / 'm.db'}", "golden")
    parent_id = record.parent(SPEC.name, {})
    record.client.set_tag(parent_id, "pad.spec", SPEC.describe())
    with pytest.raises(SweepError, match="no finished runs.*run the sweep first"):
        rebuild_table(record, parent_id)


def test_publish_logs_tables_and_figures_on_the_parent(store):
    record, parent_id, _ = store
    publish_table(record, parent_id, None)
    logged = {a.path for a in record.client.list_artifacts(parent_id)}
    assert {"table.md", "table.tex", "table.csv", "grid_P2.csv", "acer_by_row.png", "acer_trend.png",
            "grid_acer_P2.png", "grid_acer_P2.1.png", "roc_det_best_row.png"} <= logged
