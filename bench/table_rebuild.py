"""Table rebuild: 1,000 finished runs in MLflow -> the ablation table, through a real MLflow server.

A real ``mlflow server`` on 127.0.0.1 (SQLite backend, the project's own service launcher) holds one sweep
parent with 1,000 finished child runs (50 rows x 4 protocols x 5 seeds, 12 metrics each, written through the
server's store). The rebuild (``rebuild_table``: one paginated listing of the children, then summarise and
render) is timed side by side with its floor, the bare paginated ``search_runs`` listing of the same runs.
Goal: the rebuild in <= 5 s; the ratio rebuild / listing says how much of it is the project's own work.
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


def fill(db_uri: str, spec) -> str:
    """Write the parent and its finished children straight into the server's store (fast); return the parent."""
    from mlflow.entities import Metric, RunTag

    from pad_core.integrations.mlflow_runs import SweepRecord

    record = SweepRecord(db_uri, "bench")
    parent = record.parent(spec.name, {"pad.stage": "ablation", "pad.spec": spec.describe(),
                                       "pad.code_version": "bench"})
    now = int(time.time() * 1000)
    for i, cell in enumerate(spec.cells()):
        tags = {"pad.row": cell.row.name, "pad.protocol": cell.protocol, "pad.seed": str(cell.seed),
                "pad.config_hash": cell.config_hash, "pad.code_version": "bench", "pad.stage": "ablation"}
        run_id = record.child(parent, cell.key, cell.run_name, tags, {}).run_id
        p = cell.protocol.lower()
        values = [Metric(f"test/{p}/{m}", (i % 97) / 97, now, 100) for m in METRICS]
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
    args = parser.parse_args(argv)
    setup(args)
    runs = 40 if args.quick else args.runs
    reps = args.reps or (2 if args.quick else 7)
    spec = declare(max(1, runs // 20), 4, 5)
    from pad_core.integrations import services

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        parent = fill(f"sqlite:///{tmp}/mlflow.db", spec)
        filled = time.perf_counter() - started
        server = services.start_mlflow(Path(tmp), backend_uri=f"sqlite:///{tmp}/mlflow.db")
        try:
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
                f"**{verdict}** at {n} runs ({spread(rebuild).median:.2f} s). Store filled in {filled:.0f} s."]
    return emit("Table rebuild from MLflow", machine(), sections,
                {"runs": n, "seconds": times, "ratio": ratio}, args.json)


if __name__ == "__main__":
    main()
