"""The table benchmark's MLflow store: one sweep parent and N finished children as padsweep's trials leave them.

One template child is written through a real ``mlflow server`` the way a trial writes it (``SweepRecord.child``:
its tags and the 132 params of a full config, then one ``log_batch`` of its final metrics and the ``pad.outcome``
tag, then ``set_terminated``). The other N-1 children are copies of the template's database rows (runs, tags,
params, metrics, latest_metrics) with their own run id, cell tags, seed/protocol/lr params and metric values,
inserted in one SQLite transaction: MLflow's own rows, without N x 4 requests (0.14 s per run through the store:
23 minutes for 10,000). Each run's ``scores.csv`` is written where the server's proxied artifact store keeps what
a trial uploads (``<artifacts>/<experiment>/<run>/artifacts/scores.csv``); one is downloaded back to check.

Filled stores are cached (``~/.cache/padsweep/bench-table/<layout>``, complete only with its ``filled`` marker),
so repetitions and later invocations reuse them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

FILL_VERSION = 2  # bump when the stored runs change shape: older caches are refilled
THRESHOLD = 0.5  # the runs' logged decision threshold (dev_eer policy)
CURVES = ("acer", "acc", "apcer", "auc", "bpcer", "eer", "hter", "loss", "threshold", "n", "tpr_at_fpr_0.01",
          "tpr_at_fpr_0.1", "bpcer_at_apcer_0.01", "bpcer_at_apcer_0.1")  # dev/<p>/<m> evaluation curves
TEST = ("acc", "acer", "apcer", "apcer_contact_lens", "apcer_max", "apcer_print", "auc", "bpcer",
        "bpcer_at_apcer_0.01", "bpcer_at_apcer_0.1", "eer", "hter", "n", "selected_step", "threshold",
        "tpr_at_fpr_0.01", "tpr_at_fpr_0.1")  # a smoke training's test/<p>/<m> keys


@dataclass(frozen=True)
class Layout:
    rows: int
    protocols: int
    seeds: int
    scores: int  # test samples per run's scores.csv (0: none)

    @property
    def runs(self) -> int:
        return self.rows * self.protocols * self.seeds

    @property
    def name(self) -> str:
        return f"v{FILL_VERSION}-{self.rows}x{self.protocols}x{self.seeds}-scores{self.scores}"


def declare(layout: Layout):
    from pad_core.ablation import AblationSpec, Row

    rows = tuple(Row(f"r{i}", f"row {i}", {"optim.lr": 10.0 ** -(3 + i / layout.rows)}) for i in range(layout.rows))
    return AblationSpec(name="bench-table", title="table rebuild benchmark", rows=rows,
                        protocols=tuple(f"P{p + 1}" for p in range(layout.protocols)),
                        seeds=tuple(range(layout.seeds)), base={"moe.kind": "none"}, metrics=("acer", "auc", "eer"))


def run_scores(index: int, protocol: str, n: int):
    """One run's test scores on its protocol's test set (same paths and subjects for every run of it): the
    (scores.csv frame, its logged ACER, EER, AUC and threshold)."""
    import numpy as np
    import pandas as pd

    from pad_core.metrics.pad import auc, decision_metrics, eer

    labels = np.arange(n) % 2
    rng = np.random.default_rng(index)
    scores = 1 / (1 + np.exp(-(1.5 * labels - 0.75 + rng.normal(0, 1.0, n))))
    frame = pd.DataFrame({"path": [f"{protocol}/{i:05d}.png" for i in range(n)], "label": labels,
                          "attack_type": np.where(labels == 1, "live", "print"), "subject": np.arange(n) // 10,
                          "split": "test", "score": scores})
    values = decision_metrics(scores, labels, frame["attack_type"].to_numpy(), THRESHOLD)
    return frame, {"acer": values["acer"], "eer": eer(scores, labels)[0], "auc": auc(scores, labels),
                   "threshold": THRESHOLD}


def metric_values(index: int, protocol: str) -> dict[str, float]:
    """A finished run's latest metric values: its test report, the dev scores of its selected weights, the last
    evaluation curves and training figures (60 keys, as a smoke training logs)."""
    p, v = protocol.lower(), (index % 97) / 97
    values = {f"test/{p}/{m}": v for m in TEST} | {f"dev/{p}/selected_{m}": v for m in CURVES}
    values |= {f"dev/{p}/{m}": v for m in CURVES} | {f"train/{p}/{m}": v for m in
                                                     ("loss", "lr", "step_seconds", "mean_step_seconds")}
    return values | {"final": 1.0, "step": 100.0}


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "padsweep" / "bench-table"


def filled_store(layout: Layout, fresh: bool = False) -> tuple[Path, float]:
    """(folder holding mlflow.db and mlflow-artifacts/ of the layout, seconds spent filling it: 0 when cached)."""
    root = cache_root() / layout.name
    if (root / "filled").is_file() and not fresh:
        return root, 0.0
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.perf_counter()
    fill(root, layout)
    (root / "filled").write_text("complete\n")
    return root, time.perf_counter() - started


def fill(root: Path, layout: Layout) -> None:
    from pad_core.integrations import services

    server = services.start_mlflow(root, backend_uri=f"sqlite:///{root}/mlflow.db")
    try:
        populate(root, server.url, layout)
        check_scores(server.url, layout)
    finally:
        services.stop(server)


def populate(root: Path, url: str, layout: Layout) -> str:
    """Write the sweep into the server at ``url`` whose SQLite database is ``root/mlflow.db``; return its parent."""
    spec = declare(layout)
    template = write_template(url, spec)
    copy_runs(root, spec, template, layout)
    return template[0]


def write_template(url: str, spec) -> tuple[str, str]:
    """(parent id, template child id): written through the server as the sweep and a trial write them."""
    from mlflow.entities import Metric

    from pad_core.config import to_params
    from pad_core.integrations.mlflow_runs import SweepRecord, log_metrics

    record = SweepRecord(url, "bench")
    parent = record.parent(spec.name, {"pad.stage": "ablation", "pad.spec": spec.describe(),
                                       "pad.code_version": "bench"})
    cell = spec.cells()[0]
    tags = {"pad.sweep": spec.name, "pad.stage": "ablation", "pad.row": cell.row.name, "pad.protocol": cell.protocol,
            "pad.seed": str(cell.seed), "pad.config_hash": cell.config_hash, "pad.code_version": "bench",
            "pad.score_level": "frame", "pad.trial_id": "t0", "pad.threshold_policy": "dev_eer",
            "axis.optim.lr": str(cell.row.delta["optim.lr"])}
    child = record.child(parent, cell.key, cell.run_name, tags, to_params(cell.cfg)).run_id
    now = int(time.time() * 1000)
    log_metrics(record.client, child, [Metric(k, v, now, 100) for k, v in metric_values(0, cell.protocol).items()])
    record.finalize(child, "FINISHED", "completed")
    return parent, child


def copy_runs(root: Path, spec, template: tuple[str, str], layout: Layout) -> None:
    """Every other cell as a copy of the template's rows, its scores.csv next to it."""
    from pad_core.config import config_hash

    _, source = template
    hashes = {r.name: config_hash(spec.row_config(r, spec.protocols[0], spec.seeds[0])) for r in spec.rows}
    with sqlite3.connect(root / "mlflow.db") as db:
        base = {table: db.execute(f"select * from {table} where run_uuid = ?", (source,)).fetchall()
                for table in ("runs", "tags", "params")}
        cells = [(r, p, s) for r in spec.rows for p in spec.protocols for s in spec.seeds]
        for index, (row, protocol, seed) in enumerate(cells):
            run_id = source if index == 0 else uuid.uuid4().hex
            logged = metric_values(index, protocol)
            if layout.scores:
                frame, computed = run_scores(index, protocol, layout.scores)
                logged |= {f"test/{protocol.lower()}/{m}": v for m, v in computed.items()}
                folder = artifact_folder(root, base["runs"][0][11].replace(source, run_id))
                folder.mkdir(parents=True, exist_ok=True)
                frame.to_csv(folder / "scores.csv", index=False)
            key = f"{row.name}|{protocol}|s{seed}|{hashes[row.name]}"
            cell = {"pad.row": row.name, "pad.protocol": protocol, "pad.seed": str(seed),
                    "pad.config_hash": hashes[row.name], "pad.cell": key,
                    "mlflow.runName": f"{row.name}·{protocol}·s{seed}", "pad.trial_id": f"t{index}",
                    "axis.optim.lr": str(row.delta["optim.lr"])}
            params = {"train.seed": str(seed), "data.protocol": protocol, "optim.lr": str(row.delta["optim.lr"])}
            insert_run(db, base, source, run_id, cell, params, logged, index)


def artifact_folder(root: Path, artifact_uri: str) -> Path:
    """Where the server keeps the run's artifacts: its proxied store (``mlflow-artifacts:/<exp>/<run>/artifacts``
    under ``root/mlflow-artifacts``) or the experiment's own folder."""
    proxied = "mlflow-artifacts:"
    if artifact_uri.startswith(proxied):
        return root / "mlflow-artifacts" / artifact_uri[len(proxied):].lstrip("/")
    return Path(artifact_uri.removeprefix("file://"))


def insert_run(db, base: dict, source: str, run_id: str, tags: dict, params: dict, logged: dict, index: int) -> None:
    """The template's rows under ``run_id`` with these tags, params and latest metric values (one step each)."""
    if run_id != source:
        run = list(base["runs"][0])
        run[0], run[1] = run_id, tags["mlflow.runName"]
        run[11] = run[11].replace(source, run_id)  # artifact_uri
        db.execute(f"insert into runs values ({','.join('?' * len(run))})", run)
        db.executemany("insert into tags values (?, ?, ?)",
                       [(k, tags.get(k, v), run_id) for k, v, _ in base["tags"]])
        db.executemany("insert into params values (?, ?, ?)",
                       [(k, params.get(k, v), run_id) for k, v, _ in base["params"]])
    stamp = 1_790_000_000_000 + index
    db.execute("delete from metrics where run_uuid = ?", (run_id,))
    db.execute("delete from latest_metrics where run_uuid = ?", (run_id,))
    db.executemany("insert into metrics (key, value, timestamp, run_uuid, step, is_nan) values (?, ?, ?, ?, 100, 0)",
                   [(k, v, stamp, run_id) for k, v in logged.items()])
    db.executemany("insert into latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                   "values (?, ?, ?, 100, 0, ?)", [(k, v, stamp, run_id) for k, v in logged.items()])


def check_scores(url: str, layout: Layout) -> None:
    """The copies answer as MLflow runs: every child listed, and a copied run's scores.csv downloads."""
    import tempfile

    from pad_core.integrations.mlflow_runs import SweepRecord

    record = SweepRecord(url, "bench")
    parent = record.find_parent("bench-table").info.run_id
    page = record.client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'",
                                     max_results=1)
    if layout.scores:
        with tempfile.TemporaryDirectory() as tmp:
            path = record.client.download_artifacts(page[0].info.run_id, "scores.csv", tmp)
            if os.path.getsize(path) == 0:
                raise RuntimeError("a copied run's scores.csv downloads empty")
