"""Refusals through a sweep file's real command line, and the MLflow server they must leave exactly as it was.

Shared by the bad-input catalogue and the issue-16 classes (command line, pre-launch checks, manifests): one real
MLflow server per test session (``store`` in tests/conftest.py) holding an earlier sweep, an unreachable Ray address
(a case that got past the checks fails differently), exit code 2, ``Fix:`` and no traceback.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE_RAY = "127.0.0.1:9"


def load_main(file: str):
    spec = importlib.util.spec_from_file_location(Path(file).stem, ROOT / "sweeps" / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs_of(file: str) -> dict:
    """``sweep_main``'s keyword arguments for a sweep file, as its ``__main__`` passes them."""
    module = load_main(file)
    kinds = {k: getattr(module, k) for k in ("get_ablation", "get_search") if hasattr(module, k)}
    if hasattr(module, "SWEEP"):
        kinds["get_ablation"] = module.SWEEP.for_args
    if hasattr(module, "Flags"):
        kinds["flags"] = module.Flags
    return {"description": module.__doc__, "file": str(ROOT / "sweeps" / file), **kinds}


def store_state(uri: str) -> list:
    """Every experiment and run on the server (every lifecycle), read without writing anything."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiments = client.search_experiments(view_type=3)
    runs = client.search_runs([e.experiment_id for e in experiments], run_view_type=3) if experiments else []
    return sorted([(e.experiment_id, e.name, e.lifecycle_stage) for e in experiments]) + sorted(
        (r.info.run_id, r.info.status, tuple(sorted(r.data.tags.items())), tuple(sorted(r.data.params.items())),
         tuple(sorted(r.data.metrics.items()))) for r in runs)


@contextlib.contextmanager
def earlier_sweep_server(folder: Path) -> Iterator[str]:
    """A real MLflow server holding an earlier sweep (a parent and a finished child with a metric); stopped after."""
    from mlflow.entities import Metric

    from pad_core.integrations import services
    from pad_core.integrations.mlflow_runs import SweepRecord

    svc = services.start_mlflow(folder)
    try:
        record = SweepRecord(svc.url, "padsweep")
        parent = record.parent("earlier", {"pad.stage": "ablation"})
        child = record.child(parent, "clip|P1|s0|h", "clip·P1·s0", {"pad.row": "clip"}, {"train.seed": "0"})
        record.client.log_batch(child.run_id, metrics=[Metric("test/p1/acer", 0.1, 0, 0)])
        record.finalize(child.run_id, "FINISHED", "completed")
        yield svc.url
    finally:
        services.stop(svc)


def refused(file: str, args: list[str], store: str, capsys, *, ray_address: str = UNREACHABLE_RAY,
            times: dict[str, float] | None = None) -> str:
    """stderr of the sweep file's command line, which must exit 2, say ``Fix:``, print no traceback and leave the
    MLflow server unchanged. ``times`` collects the seconds from ``sweep_main`` to the refusal per case."""
    from pad_core.integrations.cli import sweep_main

    before = store_state(store)
    argv = ["--smoke-test", "--mlflow-uri", store, "--ray-address", ray_address, "--sweep-name", "bad", *args]
    started = time.monotonic()
    with pytest.raises(SystemExit) as info:
        sweep_main(argv=argv, **inputs_of(file))
    if times is not None:
        times[f"{file} {' '.join(args)}"] = time.monotonic() - started
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert store_state(store) == before, "a refused command changed what MLflow had recorded"
    assert "Traceback" not in err and "Fix:" in err, err
    return err


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch):
    """A refusal test runs against no Ray cluster the machine may have in its environment, from the repo root."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.chdir(ROOT)
