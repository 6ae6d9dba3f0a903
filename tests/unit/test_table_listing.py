"""The table's fast reading path gives the table of the old one: a real ``mlflow server`` (SQLite backend) and the
same database opened directly (MLflow's client entities, the old listing), on the golden fixture and on a sweep of
300 runs read in pages that do and do not divide it; and the parsed-scores cache never serves a changed file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from pad_core.integrations import run_listing, services
from pad_core.integrations.mlflow_runs import SweepRecord, sweep_frame
from pad_core.integrations.publish import rebuild_table
from pad_core.integrations.scores_cache import ENV
from tests.unit.test_table_golden import GOLDEN, MISSING, SPEC, add_run, check_golden, normalized

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.table_store import Layout, artifact_folder, populate  # noqa: E402

MANY = Layout(rows=15, protocols=4, seeds=5, scores=40)  # 300 runs


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(folder, SQLite URI, server URL): one database, served and opened directly. Experiments keep their
    artifacts in the test's folder (both readers reach them)."""
    root = tmp_path_factory.mktemp("listing")
    db = f"sqlite:///{root}/mlflow.db"
    for name in ("golden", "bench"):
        MlflowClient(db).create_experiment(name, artifact_location=str(root / f"{name}-artifacts"))
    server = services.start_mlflow(root, backend_uri=db)
    try:
        yield root, db, server.url
    finally:
        services.stop(server)


@pytest.fixture(scope="module")
def golden(stack):
    """The golden fixture's sweep, written as test_table_golden writes it; its parent id."""
    _, db, _ = stack
    record = SweepRecord(db, "golden")
    parent = record.parent(SPEC.name, {"pad.stage": "ablation"})
    record.client.set_tag(parent, "pad.spec", SPEC.describe())
    record.client.set_tag(parent, "pad.code_version", "code-golden")
    cells = SPEC.cells()
    for cell in cells:
        failed = (cell.row.name, cell.protocol, cell.seed) == MISSING
        add_run(record, parent, cell, status="FAILED" if failed else "FINISHED")
    add_run(record, parent, cells[0], config_hash="0123456789abcdef")
    return parent


@pytest.fixture(scope="module")
def many(stack):
    root, _, url = stack
    return populate(root, url, MANY)


@pytest.fixture(autouse=True)
def scores_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path / "scores-cache"))
    return tmp_path / "scores-cache"


def tables(stack, experiment: str, parent: str):
    """(the table through the server: JSON listing; the table from the database: client entities)."""
    _, db, url = stack
    return rebuild_table(SweepRecord(url, experiment), parent), rebuild_table(SweepRecord(db, experiment), parent)


def same_table(one, other) -> None:
    (a, summary_a, _, frame_a), (b, summary_b, _, frame_b) = one, other
    assert a.markdown == b.markdown and a.latex == b.latex
    pd.testing.assert_frame_equal(a.frame, b.frame)
    pd.testing.assert_frame_equal(summary_a, summary_b)
    pd.testing.assert_frame_equal(frame_a.reset_index(drop=True), frame_b.reset_index(drop=True))


def test_golden_table_through_the_server_is_the_golden_file(stack, golden):
    served, direct = tables(stack, "golden", golden)
    same_table(served, direct)
    check_golden("moae_grid.md", served[0].markdown, golden)
    check_golden("moae_grid.tex", served[0].latex, golden)
    check_golden("moae_grid.csv", served[0].frame.to_csv().rstrip("\n"), golden)
    assert normalized(served[0].grids["P2"].to_csv(), golden) == (GOLDEN / "moae_grid_P2.csv").read_text()


def test_the_new_frame_is_the_old_sweep_frame(stack, golden, many):
    _, _, url = stack
    for experiment, parent in (("golden", golden), ("bench", many)):
        record = SweepRecord(url, experiment)
        new = run_listing.ended_frame(run_listing.child_runs(record, parent))
        pd.testing.assert_frame_equal(new, sweep_frame(record, parent))


@pytest.mark.parametrize("page", [7, 100, 300, 1000])
def test_every_page_is_read_once(stack, many, page, monkeypatch):
    """300 runs in pages of 7 (43 pages, the last short), 100 and 300 (the last page full: MLflow still hands out
    a token, and the page after it is empty) and 1000 (one page): the runs of the database, each once."""
    _, db, url = stack
    direct = SweepRecord(db, "bench")
    expected = run_listing.child_runs(direct, many)  # client entities, MLflow's default pages
    monkeypatch.setattr(run_listing, "PAGE", page)
    served = run_listing.child_runs(SweepRecord(url, "bench"), many)
    assert len(served) == MANY.runs == len({r.run_id for r in served})
    assert sorted(served, key=lambda r: r.run_id) == sorted(expected, key=lambda r: r.run_id)


def test_a_many_run_table_through_the_server_is_the_direct_table(stack, many):
    served, direct = tables(stack, "bench", many)
    same_table(served, direct)
    assert len(served[3]) == MANY.runs and "[95% bootstrap CI]" in served[0].markdown


def test_a_changed_scores_file_is_read_again_not_taken_from_the_cache(stack, golden, scores_cache, monkeypatch):
    """The cache is warm with every run's parsed scores; one run's scores.csv is then rewritten (same size, two
    scores swapped, so it no longer gives its logged ACER): the table is the one built without any cache, and it
    differs from the table before."""
    root, _, url = stack
    record = SweepRecord(url, "golden")
    before = rebuild_table(record, golden)[0]
    assert len(os.listdir(scores_cache)) == 12  # the 12 runs with scores (one row predates them)
    run = next(r for r in run_listing.child_runs(record, golden) if r.tags.get("pad.row") == "e4h2"
               and r.status == "FINISHED" and r.tags.get("pad.config_hash") != "0123456789abcdef")
    path = artifact_folder(root, run.artifact_uri) / "scores.csv"
    original = path.read_bytes()
    frame = pd.read_csv(path)
    live, attack = frame.index[frame["label"] == 1][0], frame.index[frame["label"] == 0][0]
    frame.loc[[live, attack], "score"] = frame.loc[[attack, live], "score"].to_numpy()
    try:
        frame.to_csv(path, index=False)
        assert len(path.read_bytes()) == len(original) and path.read_bytes() != original
        cached = rebuild_table(record, golden)[0]
        monkeypatch.setenv(ENV, "off")
        uncached = rebuild_table(record, golden)[0]
    finally:
        path.write_bytes(original)
    assert cached.markdown == uncached.markdown != before.markdown
    assert "scores.csv does not reproduce the logged value" in cached.markdown


def test_an_unreadable_cache_entry_is_parsed_again(stack, golden, scores_cache):
    record = SweepRecord(stack[2], "golden")
    first = rebuild_table(record, golden)[0]
    for entry in scores_cache.iterdir():
        entry.write_bytes(b"not an npz")
    assert rebuild_table(record, golden)[0].markdown == first.markdown
    assert all(entry.stat().st_size > 100 for entry in scores_cache.iterdir())  # replaced by whole entries


def test_deleted_runs_are_listed_as_deleted_by_both_paths(stack, many):
    """The deleted-run listing asks for deleted runs only (a view the server would silently read as 'active' if the
    request spelled it otherwise): one deleted run is one missing cell in both tables."""
    _, db, url = stack
    client = MlflowClient(db)
    run = run_listing.child_runs(SweepRecord(db, "bench"), many)[0]
    client.delete_run(run.run_id)
    try:
        served, direct = tables(stack, "bench", many)
    finally:
        client.restore_run(run.run_id)
    same_table(served, direct)
    assert "1 deleted run of declared cells" in served[0].markdown and "INCOMPLETE: 1/300" in served[0].markdown


def test_non_finite_and_integral_metric_values_read_alike(stack, golden):
    """NaN travels as a string in the endpoint's JSON (±inf too where a store keeps them; SQL stores clamp them to
    ±1.8e308), whole numbers as JSON integers: the frames of both paths hold the same floats."""
    _, db, url = stack
    client = MlflowClient(db)
    run = run_listing.child_runs(SweepRecord(db, "golden"), golden)[0]
    odd = {"test/p2.1/odd_nan": float("nan"), "test/p2.1/odd_inf": float("inf"), "test/p2.1/odd_ninf": -float("inf"),
           "test/p2.1/odd_whole": 3.0}
    client.log_batch(run.run_id, metrics=[Metric(k, v, 0, 0) for k, v in odd.items()])

    def frame(uri: str) -> pd.DataFrame:
        listed = run_listing.ended_frame(run_listing.child_runs(SweepRecord(uri, "golden"), golden))
        return listed.sort_values("run_id").reset_index(drop=True)

    served = frame(url)
    pd.testing.assert_frame_equal(served, frame(db))
    values = served.set_index("run_id").loc[run.run_id]
    assert pd.isna(values["test/p2.1/odd_nan"]) and values["test/p2.1/odd_ninf"] < -1e308 < 1e308 < values[
        "test/p2.1/odd_inf"]
    assert values["test/p2.1/odd_whole"] == 3.0 and isinstance(values["test/p2.1/odd_whole"], float)
