"""``--plan`` on the driver: how each cell stands, read from its checkpoint storage and (read-only) from MLflow,
then the plan printed by :mod:`pad_core.ablation.plan`; with ``--target-diff``, the seeds that difference needs,
from the finished sweep's variances (:mod:`pad_core.ablation.resolution`). Starts no Ray, creates no experiment,
run or file.
"""

from __future__ import annotations

from fractions import Fraction

from pad_core.ablation import AblationSpec, Cell
from pad_core.ablation.plan import plan_cells, render_plan
from pad_core.data import prepare
from pad_core.errors import PadError
from pad_core.integrations.cell_checkpoints import CellCheckpoints
from pad_core.integrations.options import Resources, exact
from pad_core.provenance import code_version


def describe_resources(res: Resources) -> str:
    gpus = f"{res.gpus_per_worker:g} GPU + " if res.gpus_per_worker else ""
    where = "in the Tune trial" if res.trains_in_trial else "through Ray Train (DDP)"
    return f"{res.workers} worker(s) x ({gpus}{res.cpus_per_worker:g} CPU), trained {where}{gpu_sharing(res)}"


def gpu_sharing(res: Resources) -> str:
    """How trials holding a fraction of a GPU share one (exact: 0.1 GPU is 10 trials per GPU, not 9)."""
    share = exact(res.gpus_per_worker) if res.gpus_per_worker else Fraction(0)
    if not 0 < share < 1:
        return ""
    per_gpu = int(1 // share)
    idle = 1 - per_gpu * share
    left = f", {float(idle):g} of it left idle" if idle else ""
    return f"; a fraction of a GPU: {float(share):g} GPU per trial, {per_gpu} trials share each GPU{left}"


def mlflow_state(tracking_uri: str | None, experiment: str, sweep: str,
                 code: str) -> tuple[set[str], set[str], dict[str, str] | None, str]:
    """(cell keys finished in this sweep, identities completed in any sweep, cell key -> its run in this sweep (not
    deleted; None: MLflow not read), note). MLflow is opened read-only: a store that is not there is an error
    (opening it would create it), a missing experiment a note."""
    if not tracking_uri:
        return set(), set(), None, "no MLflow URI given: finished and reusable cells are not known"
    from mlflow.entities import ViewType

    from pad_core.integrations.mlflow_read import closest, every_run, read_client, sweep_parents

    client = read_client(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None or exp.lifecycle_stage != "active":
        names = [e.name for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=1000)]
        known = closest(experiment, names, "experiments")
        return set(), set(), {}, f"experiment {experiment!r} does not exist yet ({known})"
    runs = every_run(client, [exp.experiment_id], f"tags.`pad.code_version` = '{code}' and "
                                                  "tags.`pad.outcome` = 'completed'")
    parents = [r for r in sweep_parents(client, exp.experiment_id)
               if r.data.tags.get("pad.sweep") == sweep and r.info.lifecycle_stage == "active"]
    parent_id = parents[0].info.run_id if parents else None
    mine = {r.data.tags.get("pad.cell", "") for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id
            and r.info.status == "FINISHED"}
    identities = {r.data.tags.get("pad.identity", "") for r in runs if r.info.status == "FINISHED"}
    children = every_run(client, [exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'") \
        if parent_id else []
    runs_of = {r.data.tags.get("pad.cell", ""): r.info.run_id for r in children}
    return mine, identities, runs_of, f"MLflow {tracking_uri}, experiment {experiment!r} (read only)"


def seed_planning(tracking_uri: str | None, experiment: str, sweep: str, target: float) -> str:
    """How many seeds a difference of ``target`` percentage points (first metric) needs, from the finished sweep of
    this name: its table is rebuilt read-only (between-seed variance, and the test set's from the bootstrap)."""
    flag = "--target-diff"
    if not tracking_uri:
        raise PadError(flag, target, "seed planning reads the finished sweep's variances from MLflow, and no MLflow "
                       "URI is given", "pass --mlflow-uri (or set MLFLOW_TRACKING_URI)")
    from pad_core.integrations.mlflow_read import find_sweep
    from pad_core.integrations.mlflow_runs import SweepRecord
    from pad_core.integrations.publish import rebuild_table

    try:
        record = SweepRecord.read_only(tracking_uri, experiment)
        parent = find_sweep(record.client, record.client.get_experiment(record.experiment_id), sweep)
        rendered, *_ = rebuild_table(record, parent.info.run_id, allow_mixed_code=True, allow_mixed_data=True)
    except PadError as err:
        missing = err.key in ("--sweep", "sweep")  # no such sweep, or none of its runs finished
        fix = "run the sweep first (2-3 seeds suffice to estimate its variances)" if missing else err.fix
        raise PadError(flag, target, f"seed planning reads the finished sweep {sweep!r} from MLflow: {err.key}="
                       f"{err.value!r}: {err.problem}", f"{fix}, or drop --target-diff") from None
    return rendered.stats.resolution.plan(target)


def print_plan(spec: AblationSpec, *, storage_path: str, resources: Resources, tracking_uri: str | None,
               experiment: str, reuse: bool = True, target_diff: float | None = None) -> str:
    seeds = seed_planning(tracking_uri, experiment, spec.name, target_diff) if target_diff is not None else ""
    digests, sizes = {}, {}
    for data_cfg in {c.cfg.data for c in spec.cells()}:
        data = prepare(data_cfg, check_files=False)  # the manifest only: no image is opened
        digests[data_cfg] = data.manifest.sha256
        sizes[data_cfg] = (len(data.dev), len(data.test))
    code = code_version()
    cells = [c.identify(code, digests[c.cfg.data]) for c in spec.cells()]
    finished, identities, runs_of, note = mlflow_state(tracking_uri, experiment, spec.name, code)

    def status(cell: Cell) -> str:
        if cell.key in finished:
            return "finished"
        if reuse and cell.identity in identities:
            return "reuse"
        if resources.trains_in_trial:  # checkpoints resume only in the run that wrote them (a deleted run's do not)
            run_id = (runs_of or {}).get(cell.key, "")
            checkpoints = CellCheckpoints(storage_path, spec.name, cell.key, run_id=run_id)
            if checkpoints.latest() and (runs_of is None or not checkpoints.foreign(fresh_run=not run_id)):
                return "resume"
        return "train"

    plans = plan_cells(spec, cells, status, lambda c: sizes[c.cfg.data])
    text = render_plan(spec, plans, describe_resources(resources)) + f"\n  status from: {note}; checkpoints in " \
                                                                     f"{storage_path}"
    text += f"\n  {seeds}" if seeds else ""
    print(text, flush=True)
    return text
