"""A sweep's child runs, listed for its table: every page, as plain records, as cheaply as MLflow allows.

A finished child carries the ~130 params of its full config, its tags and ~50 latest metric values; the table
reads its tags, its test metrics and two params. Through a tracking server, MLflow's client turns every page of
``runs/search`` into protobuf messages and then entities (a third of the client's time at 10,000 runs); here the
endpoint's JSON is read directly (same request, same credentials and retries: MLflow's own ``http_request``), and
the next page is requested while this one is turned into records, so the server's work overlaps the client's.
Other stores (an SQLite file, a folder) are read through ``MlflowClient.search_runs``. Both give the same
:class:`ListedRun` records (a test compares them on the same store), and every page is read: no cap on the count.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mlflow.entities import ViewType

PAGE = 1000  # runs per search request (MLflow's default page; larger pages measured no faster, see BENCHMARKS §7)
PARAMS = ("eval.apcer_mode", "eval.tpr_positive")  # the only params a table reads (how its metrics were counted)


@dataclass(frozen=True, eq=True)
class ListedRun:
    """What a table reads of one run: its info, its tags, the params of :data:`PARAMS`, its latest metrics."""

    run_id: str
    status: str
    lifecycle: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]


def child_runs(record, parent_id: str, view: int = ViewType.ACTIVE_ONLY) -> list[ListedRun]:
    """Every child run of ``parent_id`` in the record's experiment (``view``: active, deleted or all)."""
    query = f"tags.`mlflow.parentRunId` = '{parent_id}'"
    store = record.client._tracking_client.store  # noqa: SLF001 - the store decides how the pages are read
    from mlflow.store.tracking.rest_store import RestStore

    if isinstance(store, RestStore):
        return _rest_runs(store, record.experiment_id, query, view)
    return _client_runs(record.client, record.experiment_id, query, view)


def _client_runs(client, experiment_id: str, query: str, view: int) -> list[ListedRun]:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], query, run_view_type=view, max_results=PAGE, page_token=token)
        runs += [from_entity(run) for run in page]
        token = page.token
        if not token:
            return runs


def from_entity(run) -> ListedRun:
    info, params = run.info, run.data.params
    return ListedRun(info.run_id, info.status, info.lifecycle_stage, info.start_time, info.end_time,
                     info.artifact_uri, dict(run.data.tags), {k: params[k] for k in PARAMS if k in params},
                     dict(run.data.metrics))


def _rest_runs(store, experiment_id: str, query: str, view: int) -> list[ListedRun]:
    """Pages of ``runs/search`` as JSON, one request always in flight while the previous page is read. The request
    body is the one MLflow's client sends (its own message, as JSON: enum names as the server parses them)."""
    import json

    from mlflow.protos.service_pb2 import SearchRuns
    from mlflow.utils.proto_json_utils import message_to_json

    endpoint, method = store._METHOD_TO_INFO[SearchRuns]  # noqa: SLF001 - the path MLflow's client uses

    def body(token: str | None) -> dict:
        return json.loads(message_to_json(SearchRuns(experiment_ids=[str(experiment_id)], filter=query,
                                                     run_view_type=ViewType.to_proto(view), max_results=PAGE,
                                                     page_token=token)))

    runs: list[ListedRun] = []
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_page, store.get_host_creds(), endpoint, method, body(None))
        while True:
            page = pending.result()
            token = page.get("next_page_token")
            if token:
                pending = pool.submit(_page, store.get_host_creds(), endpoint, method, body(token))
            runs += [from_json(run) for run in page.get("runs", ())]
            if not token:
                return runs


def _page(creds, endpoint: str, method: str, body: dict) -> dict:
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    response = verify_rest_response(http_request(creds, endpoint, method, json=body), endpoint)
    return response.json()


def from_json(run: dict) -> ListedRun:
    """One run of the REST response. Int64 fields may come as JSON strings, metric values as numbers or as
    "NaN"/"Infinity" (protobuf's JSON form); missing fields are protobuf defaults, and an end time of 0 is None (as
    the client's entities have them)."""
    info, data = run["info"], run.get("data", {})
    params = {p["key"]: p.get("value", "") for p in data.get("params", ()) if p["key"] in PARAMS}
    return ListedRun(info["run_id"], info.get("status", "RUNNING"), info.get("lifecycle_stage", ""),
                     int(info.get("start_time", 0)), int(info.get("end_time", 0)) or None, info.get("artifact_uri", ""),
                     {t["key"]: t.get("value", "") for t in data.get("tags", ())}, params,
                     {m["key"]: float(m.get("value", 0.0)) for m in data.get("metrics", ())})


ENDED = {"completed": "FINISHED", "failed": "FAILED"}  # pad.outcome -> the MLflow status it ends with


def ended_frame(runs: list[ListedRun], stage: str | None = None):
    """Completed and failed runs as the table's tidy frame: outcome, row, protocol, seed, config hash, code and data
    versions ("" where the run predates ``pad.data_version``), compute hours, the failure reason, the threshold
    policy, APCER mode and TPR positive class its metrics used, and the latest metric values."""
    import pandas as pd

    lines = []
    for run in runs:
        tags = run.tags
        outcome = tags.get("pad.outcome", "")
        if ENDED.get(outcome) != run.status or (stage and tags.get("pad.stage") != stage):
            continue
        lines.append({"run_id": run.run_id, "outcome": outcome, "row": tags.get("pad.row"),
                      "protocol": tags.get("pad.protocol"), "seed": int(tags.get("pad.seed", -1)),
                      "config_hash": tags.get("pad.config_hash"), "code_version": tags.get("pad.code_version", ""),
                      "data_version": tags.get("pad.data_version", ""), "hours": hours(run),
                      "ended": run.end_time or 0, "reason": tags.get("pad.reason", ""),
                      "source_run": tags.get("pad.reused_from", run.run_id),
                      "threshold_policy": tags.get("pad.threshold_policy", ""),
                      "apcer_mode": run.params.get("eval.apcer_mode", "pooled"),
                      "tpr_positive": run.params.get("eval.tpr_positive", "live"), **run.metrics})
    return pd.DataFrame(lines)


def hours(run: ListedRun) -> float:
    end = run.end_time or run.start_time
    return max(0.0, (end - run.start_time) / 3.6e6)
