"""A sweep's runs are read page after page with no cap: a sweep of more cells than a listing's cap (MLflow's
client stopped at 5,000) would otherwise train its finished cells again and build its table from a part."""

import sqlite3

from pad_core.integrations.mlflow_runs import SweepRecord

CELLS = 5_050  # past the old cap of 5,000


def test_a_resumed_sweep_sees_every_finished_cell_past_any_cap(tmp_path):
    db = tmp_path / "mlflow.db"
    record = SweepRecord(f"sqlite:///{db}", "padsweep")
    client = record.client
    parent = client.create_run(record.experiment_id, tags={"pad.sweep": "big", "pad.kind": "sweep-parent"})
    first = client.create_run(record.experiment_id, tags={"mlflow.parentRunId": parent.info.run_id,
                                                          "pad.cell": "c0", "pad.outcome": "completed"})
    client.set_terminated(first.info.run_id, "FINISHED")
    copy_run(db, first.info.run_id, CELLS - 1)  # the same row under new ids: MLflow's own tables, one transaction
    assert len(record.children(parent.info.run_id)) == CELLS
    assert record.finished_keys(parent.info.run_id) == {f"c{i}" for i in range(CELLS)}


def copy_run(db, run_id: str, copies: int) -> None:
    with sqlite3.connect(db) as con:
        columns = [row[1] for row in con.execute("PRAGMA table_info(runs)")]
        others = ", ".join(c for c in columns if c != "run_uuid")
        tags = con.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,)).fetchall()
        for i in range(1, copies + 1):
            new = f"{i:032x}"
            con.execute(f"INSERT INTO runs (run_uuid, {others}) SELECT ?, {others} FROM runs WHERE run_uuid = ?",
                        (new, run_id))
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                            [(k, f"c{i}" if k == "pad.cell" else v, new) for k, v in tags])
