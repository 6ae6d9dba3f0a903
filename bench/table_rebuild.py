"""Table rebuild: N finished runs in MLflow -> the ablation table, through a real MLflow server.

A real ``mlflow server`` on 127.0.0.1 (SQLite backend, the project's own service launcher) holds one sweep
parent with N finished child runs (default 10,000: 50 rows x 8 protocols x 25 seeds), each carrying what a real
child carries: the 132 params of a full config, 15 tags, 51 latest metric values (``bench/table_store.py``; the
filled store is cached between invocations). Timed side by side, interleaved:

- the listing through MLflow's client (``search_runs`` pages -> protobuf -> entities), the old path;
- the listing as padsweep reads it now (``run_listing.child_runs``: the REST endpoint's JSON, next page in flight);
- ``rebuild_table`` (listing, summary, statistics, render): the table ``python -m pad_core table`` and the sweep
  print.

With ``--scores N`` every run also has a ``scores.csv`` of N test samples (N/10 subjects) and its logged ACER, EER
and AUC are computed from them, so the rebuild takes the whole path of a real table: downloading every run's
scores, checking that they reproduce the logged values, the bootstrap intervals of every cell and the paired
comparison. The first rebuild parses every file (empty scores cache); the timed ones find them parsed.
``--profile`` breaks one JSON listing down into request (server + transfer), JSON decoding and records.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import base_parser, emit, machine, md_table, ratios, setup, spread, time_interleaved  # noqa: E402
from bench.table_store import Layout, filled_store  # noqa: E402


def listing_profile(record, parent: str) -> dict[str, float]:
    """Seconds of one JSON listing spent waiting for the server's pages, decoding them, building records."""
    from mlflow.protos.service_pb2 import SearchRuns
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    from pad_core.integrations.run_listing import PAGE, from_json

    store = record.client._tracking_client.store
    endpoint, method = store._METHOD_TO_INFO[SearchRuns]
    body = {"experiment_ids": [record.experiment_id], "filter": f"tags.`mlflow.parentRunId` = '{parent}'",
            "max_results": PAGE, "run_view_type": "ACTIVE_ONLY"}
    spent, token, size = {"request (server + transfer)": 0.0, "JSON decoding": 0.0, "records": 0.0}, None, 0
    while True:
        started = time.perf_counter()
        response = verify_rest_response(http_request(store.get_host_creds(), endpoint, method,
                                                     json={**body, **({"page_token": token} if token else {})}),
                                        endpoint)
        size += len(response.content)
        decoded = time.perf_counter()
        page = response.json()
        built = time.perf_counter()
        [from_json(run) for run in page.get("runs", ())]
        done = time.perf_counter()
        for key, t in zip(spent, (decoded - started, built - decoded, done - built)):
            spent[key] += t
        token = page.get("next_page_token")
        if not token:
            return {**spent, "MB": size / 1e6}


def measure(url: str, parent: str, reps: int, scores: bool, cache: str) -> tuple[dict[str, list[float]], float]:
    from pad_core.integrations import run_listing
    from pad_core.integrations.mlflow_runs import SweepRecord
    from pad_core.integrations.publish import rebuild_table

    record = SweepRecord(url, "bench")
    query = f"tags.`mlflow.parentRunId` = '{parent}'"
    os.environ["PADSWEEP_SCORES_CACHE"] = cache
    started = time.perf_counter()
    rebuild_table(record, parent)  # parses every scores.csv into the (empty) cache
    cold = time.perf_counter() - started if scores else float("nan")
    candidates = {"listing: MLflow client entities (old)":
                  lambda: run_listing._client_runs(record.client, record.experiment_id, query, 1),
                  "listing: REST JSON, next page in flight (new)": lambda: run_listing.child_runs(record, parent),
                  "rebuild_table (default table)": lambda: rebuild_table(record, parent)}
    return time_interleaved(candidates, reps=reps, warmup=0), cold


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__)
    parser.add_argument("--runs", type=int, default=10000, help="finished runs (rows x --protocols x --seeds)")
    parser.add_argument("--protocols", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=25,
                        help="default 50 rows x 8 protocols x 25 seeds: a sweep's declaration (pad.spec, one MLflow "
                             "tag of at most 8,000 characters) holds about 75 rows")
    parser.add_argument("--scores", type=int, default=0, help="test samples in each run's scores.csv (0: none)")
    parser.add_argument("--fresh", action="store_true", help="fill the store again (default: the cached one)")
    parser.add_argument("--profile", action="store_true", help="break one JSON listing down")
    args = parser.parse_args(argv)
    setup(args)
    runs, n_scores, protocols, seeds = ((40, min(args.scores, 200), 4, 5) if args.quick else
                                        (args.runs, args.scores, args.protocols, args.seeds))
    reps = args.reps or (2 if args.quick else 3)
    layout = Layout(max(1, runs // (protocols * seeds)), protocols, seeds, n_scores)
    root, filled = filled_store(layout, args.fresh)
    from pad_core.integrations import services
    from pad_core.integrations.mlflow_runs import SweepRecord

    server = services.start_mlflow(root, backend_uri=f"sqlite:///{root}/mlflow.db")
    try:
        parent = SweepRecord(server.url, "bench").find_parent("bench-table").info.run_id
        profile = listing_profile(SweepRecord(server.url, "bench"), parent) if args.profile else {}
        with tempfile.TemporaryDirectory() as cache:
            times, cold = measure(server.url, parent, reps, bool(n_scores), cache)
    finally:
        services.stop(server)
    old, new, rebuild = times.values()
    n = layout.runs
    rows = [[name, n, spread(t).fmt(3)] for name, t in times.items()]
    speedup = spread(ratios(old, new))
    verdict = ("met" if spread(rebuild).median <= 5.0 else "missed") if n >= 10000 else "not judged (fewer runs)"
    what = (f"every run has a scores.csv of {n_scores:,} test samples ({n_scores // 10} subjects): intervals of every "
            f"cell and the paired comparison of {layout.rows - 1} rows; first rebuild (every file parsed) "
            f"{cold:.1f} s, timed ones with the parsed-scores cache warm" if n_scores else
            "no scores.csv: mean ± std over seeds, no intervals")
    sections = [md_table(["step", "runs", "seconds, median [IQR]"], rows),
                f"Old ÷ new listing: {speedup.fmt(2)} (n={speedup.n}). Goal: table from 10,000 runs ≤ 5 s: "
                f"**{verdict}** at {n:,} runs ({spread(rebuild).median:.2f} s; {what}). Store "
                + (f"filled in {filled:.0f} s." if filled else "from the cache.")]
    if profile:
        sections.append("One JSON listing: " + ", ".join(f"{k} {v:.2f}" + ("" if k == "MB" else " s")
                                                         for k, v in profile.items()) + ".")
    return emit("Table rebuild from MLflow", machine(), sections,
                {"runs": n, "scores": n_scores, "seconds": times, "cold_rebuild_s": cold, "profile": profile,
                 "speedup": speedup}, args.json)


if __name__ == "__main__":
    main()
