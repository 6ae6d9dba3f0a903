"""Running an ablation sweep: validate every cell, skip finished ones, walk the rest as a Tune grid,
record each cell in MLflow, then rebuild the table from MLflow alone.
"""

from __future__ import annotations

import logging
import os

from ray import tune

from pad_core.ablation import AblationSpec, Cell
from pad_core.ablation.view import TableView
from pad_core.audit import audit_spec
from pad_core.config import render_value, to_flat
from pad_core.data import prepare
from pad_core.data.families import make_split_datasets
from pad_core.data.prepare import score_level
from pad_core.errors import PadError, SweepError
from pad_core.integrations.callbacks import FinalizeRuns
from pad_core.integrations.cluster import DRIVER_RESOURCE, check_ray_address, connect, max_concurrent
from pad_core.integrations.mlflow_runs import SweepRecord, check_tracking_uri
from pad_core.integrations.options import Resources, SweepOptions, TrialPlan
from pad_core.integrations.publish import publish_table
from pad_core.integrations.session import check_lease, driver_signals, fit, sweep_runs
from pad_core.integrations.storage import storage_for
from pad_core.integrations.sweep_checks import (
    check_data,
    check_declaration_size,
    check_folder_names,
    check_some_finished,
    check_storage,
    data_key,
    data_versions,
    grid_folders,
    record_data,
)
from pad_core.integrations.trial import run_tags, train_driver
from pad_core.models import validate_model_cfg
from pad_core.provenance import code_version


def manifest_digests(cells: list[Cell]) -> dict:
    """Data config -> sha256 of its manifest, each manifest read (and its images checked) once; the datasets of each
    model family using it are built from it too (columns and values a family needs: refused here, not per trial)."""
    digests = {}
    for data_cfg in {c.cfg.data for c in cells}:
        data = prepare(data_cfg)
        digests[data_cfg] = data.manifest.sha256
        for level_cfg in {c.cfg.eval.score_level: c.cfg for c in cells if c.cfg.data == data_cfg}.values():
            score_level(level_cfg, data)  # scoring per video without video ids: refused before any trial
        for cfg in {c.cfg.family: c.cfg for c in cells if c.cfg.data == data_cfg}.values():
            make_split_datasets(cfg, data)
    return digests


def preflight(cells: list[Cell], resources: Resources, spec: AblationSpec | None = None,
              digests: dict | None = None) -> list[Cell]:
    """Everything that can fail before a trial starts: configs, layer indices, data, batch split, and the
    dead-toggle audit of the sweep's rows. Returns the cells with their identities (code and data hashes)."""
    digests = digests if digests is not None else manifest_digests(cells)
    for cell in cells:
        try:
            validate_model_cfg(cell.cfg)
        except PadError as err:
            raise SweepError(f"row {cell.row.name!r}: {err.key}", err.value, err.problem, err.fix) from None
        if cell.cfg.data.batch_size % resources.workers:
            raise SweepError("data.batch_size", cell.cfg.data.batch_size,
                             f"not divisible by {resources.workers} workers per trial",
                             "use a batch size that is a multiple of the worker count")
    findings = audit_spec(spec) if spec and len(spec.rows) > 1 else []
    if findings:
        raise SweepError("audit", spec.name, "rows that change nothing or leave parameters without gradient: "
                         + "; ".join(map(str, findings)), "fix or remove those rows (python -m pad_core audit)")
    code = code_version()  # hashes every source file: once, not per cell
    return [c.identify(code, digests[c.cfg.data]) for c in cells]


def check_declaration(record: SweepRecord, parent_id: str, spec: AblationSpec, allow: bool) -> None:
    """Refuse an existing parent whose declared cells differ (reads only: a refusal leaves the sweep as it was)."""
    stored = record.client.get_run(parent_id).data.tags.get("pad.spec")
    changed, new = {}, spec.view()  # one view: describe() is its JSON, and it hashes every row's config
    if stored and stored != new.to_json():  # titles, paper numbers and layouts may change; cells may not
        old = TableView.from_json(stored)
        changed = {k: (getattr(old, k), getattr(new, k)) for k in ("rows", "protocols", "seeds", "hashes")
                   if getattr(old, k) != getattr(new, k)}
    if changed and not allow:
        raise SweepError("sweep", spec.name, f"declaration changed since it started: {changed}",
                         "pass --allow-spec-change to go on (finished cells are kept), or use a new --sweep-name")


def check_parent(record: SweepRecord, parent_id: str, spec: AblationSpec, versions: dict[str, str],
                 opts: SweepOptions) -> None:
    """An existing parent's data and declaration against this run's (reads only)."""
    check_data(record, parent_id, versions, opts.allow_data_change)
    check_declaration(record, parent_id, spec, opts.allow_spec_change)


def record_declaration(record: SweepRecord, parent_id: str, spec: AblationSpec, versions: dict[str, str]) -> None:
    """What this run of the sweep declares, on its parent (inside ``ending_runs``: a failure here ends it FAILED)."""
    record.client.set_tag(parent_id, "pad.spec", spec.describe())
    record.client.set_tag(parent_id, "pad.code_version", code_version())
    record_data(record, parent_id, versions)


def check_reachable(opts: SweepOptions) -> None:
    """MLflow and Ray answer at the given addresses (seconds, instead of minutes of client retries)."""
    check_tracking_uri(opts.tracking_uri)
    check_ray_address(opts.ray_address)


def plans(spec: AblationSpec, cells: list[Cell], opts: SweepOptions, parent_id: str, stage: str,
          versions: dict[str, str]) -> list[TrialPlan]:
    return [TrialPlan(sweep=spec.name, stage=stage, tracking_uri=opts.tracking_uri, experiment=opts.experiment,
                      parent_id=parent_id, storage_path=opts.storage_path, resources=opts.resources,
                      tracking_outage_s=opts.tracking_outage_s, keep_checkpoints=opts.keep_checkpoints,
                      data_version=versions[data_key(c.cfg.data)], flat=to_flat(c.cfg), row=c.row.name, key=c.key,
                      run_name=c.run_name, identity=c.identity,
                      axes={k: render_value(v) for k, v in c.row.delta.items()}) for c in cells]


def cells_to_train(record: SweepRecord, parent_id: str, spec: AblationSpec, cells: list[Cell], opts: SweepOptions,
                   stage: str, versions: dict[str, str]) -> list[Cell]:
    """Cells not finished in this sweep and, unless ``opts.reuse`` is off, not finished with the same identity in
    another sweep: those are linked into this sweep as finished runs pointing at the original."""
    done = record.finished_keys(parent_id)
    todo = [c for c in cells if c.key not in done]
    elsewhere = record.completed_elsewhere({c.identity for c in todo}, code_version(), parent_id) \
        if opts.reuse and todo else {}
    linked = [c for c in todo if c.identity in elsewhere]
    for cell, plan in zip(linked, plans(spec, linked, opts, parent_id, stage, versions)):
        record.reuse(parent_id, cell.key, cell.run_name, run_tags(plan, cell.cfg, "reused", {}),
                     elsewhere[cell.identity])
    reused = f" ({len(linked)} of them reused from other sweeps: same identity)" if linked else ""
    print(f"[padsweep] {spec.name}: {len(cells)} cells, {len(cells) - len(todo) + len(linked)} already finished in "
          f"MLflow{reused}, {len(todo) - len(linked)} to run", flush=True)
    return [c for c in todo if c.identity not in elsewhere]


def tune_storage(uri: str) -> dict:
    path, fs = storage_for(uri)
    return {"storage_path": path, "storage_filesystem": fs}


def driver_trainable(res: Resources):
    # MLflow is the record; Tune's own CSV/JSON/TensorBoard loggers would only duplicate it (and Tune then
    # warns at the end that it found no result files to summarise).
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    return tune.with_resources(train_driver, res.trial_resources(DRIVER_RESOURCE))


def run_grid(spec: AblationSpec, opts: SweepOptions, *, stage: str = "ablation") -> str:
    """Run every unfinished cell of ``spec``; return the table rebuilt from MLflow (Markdown). One driver at a
    time per sweep (its lease); every way out ends the runs it started (pad_core/integrations/session.py)."""
    with driver_signals() as signals:
        digests = manifest_digests(spec.cells())
        cells = preflight(spec.cells(), opts.resources, spec, digests)
        check_declaration_size(spec)
        check_folder_names(spec.name, grid_folders(spec.name, cells, opts.resources))
        check_storage(opts.storage_path)
        check_reachable(opts)
        connect(opts.ray_address)
        signals.reinstall()
        concurrent = max_concurrent(opts.resources, opts.max_concurrent, opts.autoscaling)  # before MLflow
        record, versions = SweepRecord(opts.tracking_uri, opts.experiment), data_versions(digests)
        with sweep_runs(record, opts.experiment, spec.name, {"pad.stage": stage}, opts.wait, signals,
                        lambda parent_id: check_parent(record, parent_id, spec, versions, opts),
                        lambda parent_id: record_declaration(record, parent_id, spec, versions)) as (parent_id, lease):
            pending = cells_to_train(record, parent_id, spec, cells, opts, stage, versions)
            if pending:
                fit(grid_tuner(spec, pending, opts, parent_id, stage, versions, concurrent), signals)
                check_lease(lease, spec.name)
            check_some_finished(record, parent_id, spec.name)
            table = publish_table(record, parent_id, stage)
            record.set_status(parent_id, "FINISHED")
            return table


def grid_tuner(spec: AblationSpec, pending: list[Cell], opts: SweepOptions, parent_id: str, stage: str,
               versions: dict[str, str], concurrent: int) -> tune.Tuner:
    return tune.Tuner(
        driver_trainable(opts.resources),
        param_space={"plan": tune.grid_search([plan.to_config() for plan in
                                               plans(spec, pending, opts, parent_id, stage, versions)])},
        # A finished trial's process takes the next cell (no new actor, no second import of torch and
        # open_clip: ~5 s a trial here, docs/BENCHMARKS.md §5); every cell still starts from its own seed.
        tune_config=tune.TuneConfig(max_concurrent_trials=concurrent, reuse_actors=True),
        run_config=tune.RunConfig(name=spec.name, **tune_storage(opts.storage_path), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=opts.trial_retries),
                                  callbacks=[FinalizeRuns(opts.tracking_uri, opts.experiment, len(pending))]),
    )
