"""Table rebuild: 1,000 finished runs in MLflow -> the ablation table, through a real MLflow server.

A real ``mlflow server`` on 127.0.0.1 (SQLite backend, the project's own service launcher) holds one sweep
parent with 1,000 finished child runs (50 rows x 4 protocols x 5 seeds, 12 metrics each, written through the
server's store). The rebuild (``rebuild_table``: one paginated listing of the children, then summarise and
render) is timed side by side with its floor, the bare paginated ``search_runs`` listing of the same runs.
Goal: the rebuild in <= 5 s; the ratio rebuild / listing says how much of it is the project's own work.

With ``--scores N`` (default 1,000) every run also has a ``scores.csv`` of N test samples (N/10 subjects) uploaded
through the server (its proxied artifact store, as trials upload theirs), and its logged ACER, EER and AUC are
computed from those scores, so the rebuild takes the whole path of a real table: downloading every run's scores,
checking that they reproduce the logged values, the bootstrap intervals of every cell and the paired comparison.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import base_parser, emit, machine, md_table, ratios, setup, spread, time_interleaved  # noqa: E402

METRICS = ("acer", "acc", "auc", "eer", "apcer", "bpcer", "hter", "threshold", "n", "tpr_at_fpr1", "loss", "step")


def declare(rows: int, protocols: int, seeds: int):
    from pad_core.ablation import AblationSpec, Row

    return AblationSpec(name="bench-table", title="table rebuild benchmark",
                        rows=tuple(Row(f"r{i}", f"row {i}", {"optim.lr": 10.0 ** -(3 + i / rows)})
                                   for i in range(rows)),
                        protocols=tuple(f"P{p + 1}" for p in range(protocols)), seeds=tuple(range(seeds)),
                        base={"moe.kind": "none"}, metrics=("acer", "auc", "eer"))


THRESHOLD = 0.5  # the runs' logged decision threshold (dev_eer policy)


def run_scores(index: int, protocol: str, n: int):
    """One run's test scores on its protocol's test set (same paths and subjects for every run of it): the
    (scores.csv frame, its logged metrics)."""
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


def fill(db_uri: str, spec, server_url: str, n_scores: int, folder: str) -> str:
    """Write the parent and its finished children straight into the server's store (fast), the scores through
    the server (as trials upload them); return the parent."""
    import os

    from mlflow.entities import Metric, RunTag

    from pad_core.integrations.mlflow_runs import SweepRecord

    SweepRecord(server_url, "bench")  # the experiment, created by the server: its artifacts are the server's
    record, uploads = SweepRecord(db_uri, "bench"), SweepRecord(server_url, "bench")
    parent = record.parent(spec.name, {"pad.stage": "ablation", "pad.spec": spec.describe(),
                                       "pad.code_version": "bench"})
    now = int(time.time() * 1000)
    for i, cell in enumerate(spec.cells()):
        tags = {"pad.row": cell.row.name, "pad.protocol": cell.protocol, "pad.seed": str(cell.seed),
                "pad.config_hash": cell.config_hash, "pad.code_version": "bench", "pad.stage": "ablation",
                "pad.threshold_policy": "dev_eer"}
        run_id = record.child(parent, cell.key, cell.run_name, tags, {}).run_id
        p = cell.protocol.lower()
        logged = {m: (i % 97) / 97 for m in METRICS}
        if n_scores:
            frame, computed = run_scores(i, cell.protocol, n_scores)
            logged.update(computed)
            path = os.path.join(folder, "scores.csv")
            frame.to_csv(path, index=False)
            uploads.log_artifact(run_id, path)
        values = [Metric(f"test/{p}/{m}", v, now, 100) for m, v in logged.items()]
        record.client.log_batch(run_id, metrics=values, tags=[RunTag("pad.outcome", "completed")])
        record.client.set_terminated(run_id, "FINISHED")
    return parent


def measure(url: str, parent: str, reps: int) -> dict[str, list[float]]:
    from pad_core.integrations.mlflow_runs import SweepRecord
    from pad_core.integrations.publish import rebuild_table

    record = SweepRecord(url, "bench")
    candidates = {"listing (search_runs, paginated)": lambda: record.children(parent),
                  "rebuild_table (listing + summary + render)": lambda: rebuild_table(record, parent)}
    return time_interleaved(candidates, reps=reps, warmup=1)


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__)
    parser.add_argument("--runs", type=int, default=1000, help="finished runs (rows x 4 protocols x 5 seeds)")
    parser.add_argument("--scores", type=int, default=1000, help="test samples in each run's scores.csv (0: none)")
    args = parser.parse_args(argv)
    setup(args)
    runs, n_scores = (40, min(args.scores, 200)) if args.quick else (args.runs, args.scores)
    reps = args.reps or (2 if args.quick else 7)
    spec = declare(max(1, runs // 20), 4, 5)
    from pad_core.integrations import services

    with tempfile.TemporaryDirectory() as tmp:
        server = services.start_mlflow(Path(tmp), backend_uri=f"sqlite:///{tmp}/mlflow.db")
        try:
            started = time.perf_counter()
            parent = fill(f"sqlite:///{tmp}/mlflow.db", spec, server.url, n_scores, tmp)
            filled = time.perf_counter() - started
            times = measure(server.url, parent, reps)
        finally:
            services.stop(server)
    listing, rebuild = times.values()
    n = len(spec.cells())
    rows = [[name, n, spread(t).fmt(3)] for name, t in times.items()]
    ratio = spread(ratios(rebuild, listing))
    verdict = ("met" if spread(rebuild).median <= 5.0 else "missed") if n >= 1000 else "not judged (fewer runs)"
    sections = [md_table(["step", "runs", "seconds, median [IQR]"], rows),
                f"Rebuild ÷ listing: {ratio.fmt(2)} (n={ratio.n}). Goal: rebuild ≤ 5 s for 1,000 runs: "
                f"**{verdict}** at {n} runs ({spread(rebuild).median:.2f} s). Store filled in {filled:.0f} s. "
                + (f"Every run has a scores.csv of {n_scores:,} test samples ({n_scores // 10} subjects): the rebuild "
                   "downloads them all and bootstraps every cell." if n_scores else "No scores.csv (no intervals).")]
    return emit("Table rebuild from MLflow", machine(), sections,
                {"runs": n, "scores": n_scores, "seconds": times, "ratio": ratio}, args.json)


if __name__ == "__main__":
    main()
