"""The command line every sweep file shares: ``python sweeps/<name>.py [--smoke-test] [--mode search] ...``.

A sweep file declares its rows/search space and calls :func:`sweep_main`. The same file runs on a
laptop (embedded defaults: the demo scale, synthetic data, a local or $RAY_ADDRESS cluster) and on a
cluster through ``ray job submit`` with real flags (``--backbone ViT-B-16-quickgelu --pretrained
openai --data s3://... --gpus-per-trial 8``).

Every value is checked before anything is recorded or started, each refusal ``<key>=<value>: <problem>. Fix: ...``
with exit code 2: single flags in :mod:`cli_inputs` (numbers by one table, lists, names), combinations and paths
in :mod:`cli_overrides`, service addresses in :mod:`endpoints`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pad_core.config import from_flat, parse_assignments, scale_overrides
from pad_core.errors import PadError, SweepError
from pad_core.integrations.cli_inputs import Number, check_name, name_list, number, parse, seed_list, typed_flags
from pad_core.integrations.cli_overrides import (
    FLAG_KEYS,
    WEIGHT_FLAGS,
    absolute_paths,
    always_drawn,
    assignments,
    check_mode_flags,
    check_resources,
    given_weights,
    row_weights,
    storage_uri,
)
from pad_core.integrations.endpoints import check_ray_form, check_tracking_form
from pad_core.integrations.options import Resources, SweepOptions
from pad_core.rehearsal import rehearse_rows
from pad_core.sweep_args import SweepArgs, add_own_flags, run_scale

TARGET_DIFF = Number(float, 0, "give the difference to resolve in percentage points, e.g. --target-diff 1.0",
                     above=True)


def build_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("ablation", "search"), default="ablation",
                   help="ablation: walk the declared rows as a grid; search: Optuna TPE + ASHA, then confirm")
    p.add_argument("--smoke-test", action="store_true",
                   help="seconds-long trials, 1 seed, 1 protocol (CI); --seeds/--protocols, when given, are kept")
    p.add_argument("--scale", choices=("demo", "paper", "rehearsal"), default="demo",
                   help="demo: tiny CLIP, random init, synthetic data (CPU); paper: ViT-B/16 + the papers' schedule, "
                   "bf16; rehearsal: paper exactly, 2 steps, staged weights and S3 data (the paper path on a CPU)")
    p.add_argument("--plan", action="store_true",
                   help="print every cell, its config vs the base, resources, status and estimated GPU-hours, "
                   "then exit (starts no Ray, writes nothing to MLflow)")
    p.add_argument("--target-diff", metavar="PP", type=number("--target-diff", TARGET_DIFF),
                   help="with --plan: the difference of the first metric (ACER, percentage points) the table should "
                   "resolve; says how many seeds it needs, from the finished sweep of this name in MLflow (read only)")
    g = p.add_argument_group("what to train")
    g.add_argument("--backbone", help="open_clip model name, e.g. ViT-B-16-quickgelu")
    g.add_argument("--pretrained", help="weights of open_clip (CLIP) rows: an open_clip tag (openai) or a local "
                   "checkpoint path; '' = random init. Reaches every CLIP row")
    g.add_argument("--imagenet-weights", help="ImageNet weights of torchvision rows (ResNet50, ViT-B/16, BIG-MoE as "
                   "released, DeepPixBiS): a local state-dict path, a folder holding one file per network "
                   "(torchvision's cache names or <network>.pth), 'torchvision' (default: IMAGENET1K_V1 files in "
                   "$TORCH_HOME/hub/checkpoints, never downloaded) or '' = random init. Reaches every torchvision row")
    g.add_argument("--allow-random-init", action="store_true",
                   help="at --scale paper/rehearsal, let rows train from random init (refused otherwise)")
    g.add_argument("--data", help="manifest CSV/Parquet path or s3:// URI (default: synthetic:iris)")
    g.add_argument("--protocols", type=name_list("--protocols"),
                   help="comma-separated protocols or groups, each once, e.g. P1,P2 or P3 (= P3.1..P3.6)")
    g.add_argument("--seeds", type=seed_list("--seeds"),
                   help="comma-separated training seeds, each once, 0..2**32-1, e.g. 0,1,2 (listed, not ranged)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config override by flat key, e.g. --set optim.lr=1e-5 (repeatable)")
    r = p.add_argument_group("where it runs")
    r.add_argument("--gpus-per-trial", type=float, default=0, help="GPUs per trial: whole GPUs, one Train worker per "
                   "GPU (DDP); or a fraction below 1 (0.25: four trials share a GPU), one worker in the Tune trial")
    r.add_argument("--workers-per-trial", type=int, help="Train workers per trial (default: GPUs or 1); with whole "
                   "GPUs, one per GPU")
    r.add_argument("--always-ray-train", action="store_true",
                   help="run single-worker trials through a TorchTrainer too (default: in the Tune trial, faster)")
    r.add_argument("--cpus-per-worker", type=float, default=1.0, help="CPUs each Train worker holds")
    r.add_argument("--max-concurrent", type=int, help="cap on concurrent trials (default: what fits)")
    r.add_argument("--autoscaling", action="store_true",
                   help="the cluster scales GPU nodes from zero: queue trials instead of checking free resources")
    r.add_argument("--ray-address", help="Ray cluster address (default: $RAY_ADDRESS, else a local instance)")
    default_storage = os.environ.get("PADSWEEP_STORAGE", os.path.expanduser("~/ray_results/padsweep"))
    r.add_argument("--storage", default=default_storage,
                   help="Tune/Train storage (shared across nodes on a cluster: NFS or s3://)")
    r.add_argument("--keep-checkpoints", action="store_true",
                   help="keep a finished cell's checkpoints in the storage (default: deleted when the cell finishes; "
                   "failed or killed cells always keep theirs, to resume)")
    t = p.add_argument_group("where it is recorded")
    t.add_argument("--mlflow-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                   help="MLflow tracking server (default: $MLFLOW_TRACKING_URI)")
    t.add_argument("--experiment", default="padsweep", help="MLflow experiment")
    t.add_argument("--tracking-outage", type=float, default=SweepOptions.tracking_outage_s, metavar="SECONDS",
                   help="how long trials train on while MLflow is unreachable, queueing their reports")
    t.add_argument("--sweep-name", help="sweep id (default: <file>-<scale>); reuse it to resume; letters, digits, "
                   "'.', '_', '-'")
    t.add_argument("--no-reuse", action="store_true",
                   help="train every cell this sweep has not finished, even if another sweep finished the same one")
    t.add_argument("--allow-spec-change", action="store_true",
                   help="continue a sweep whose rows/seeds/configs changed since it started")
    t.add_argument("--allow-data-change", action="store_true",
                   help="continue a sweep whose data manifest changed since it started: its cells train again on "
                   "the new data (runs of the old data are left out of the table)")
    t.add_argument("--wait", action="store_true",
                   help="if another driver is running this sweep, wait for it to end instead of refusing")
    s = p.add_argument_group("search mode")
    s.add_argument("--num-samples", type=int, help="configurations Optuna tries")
    s.add_argument("--top-k", type=int, help="configurations confirmed on fresh seeds")
    s.add_argument("--confirm-seeds", type=seed_list("--confirm-seeds"),
                   help="fresh seeds for the confirmation stage (not the search's seed 0)")
    s.add_argument("--search-protocol", help="protocol the search runs in (default: the first protocol)")
    s.add_argument("--scheduler", help="early stopping: asha (asynchronous, default) or sha (synchronous "
                   "successive halving: every trial waits at each rung; better with few samples per slot)")
    s.add_argument("--grace-period", type=int, help="evaluations before a trial may be stopped (past the warm-up)")
    s.add_argument("--reduction-factor", type=int, help="each rung keeps 1/factor of the trials")
    return typed_flags(p)  # every numeric flag checked by its rule (cli_inputs.NUMBERS), free text non-empty


def default_name(ns: argparse.Namespace, file: str) -> str:
    suffix = "-smoke" if ns.smoke_test and ns.scale == "rehearsal" else ""
    return f"{Path(file).stem}-{run_scale(ns.scale, ns.smoke_test)}{suffix}"


def base_overrides(ns: argparse.Namespace) -> dict[str, Any]:
    """Scale, then --backbone/--pretrained/--data, then --set (checked: cli_overrides.assignments); local paths
    made absolute, since the trials run in another folder than this driver."""
    flat: dict[str, Any] = scale_overrides(run_scale(ns.scale, ns.smoke_test))
    for flag, key in FLAG_KEYS.items():
        if getattr(ns, flag) is not None:
            flat[key] = getattr(ns, flag)
    flat.update(assignments(ns))
    return absolute_paths(flat)


def resources(ns: argparse.Namespace) -> Resources:
    """What each trial holds (checked: cli_overrides.check_resources): whole GPUs, one worker each, or one worker
    holding a fraction of a GPU."""
    check_resources(ns)
    workers = max(1, int(ns.gpus_per_trial)) if ns.workers_per_trial is None else ns.workers_per_trial
    gpus = ns.gpus_per_trial / workers if ns.gpus_per_trial else 0.0
    return Resources(workers=workers, gpus_per_worker=gpus, cpus_per_worker=ns.cpus_per_worker,
                     in_trial=not ns.always_ray_train)


def options(ns: argparse.Namespace) -> SweepOptions:
    """Where the sweep runs and records, checked in form here (no network: check_reachable probes later)."""
    if not ns.mlflow_uri and not ns.plan:
        raise PadError("--mlflow-uri", None, "no MLflow tracking server given",
                       "set MLFLOW_TRACKING_URI or pass --mlflow-uri (bash scripts/services.sh up starts one)")
    if ns.mlflow_uri:
        check_tracking_form(ns.mlflow_uri)
    ray_address = ns.ray_address or os.environ.get("RAY_ADDRESS")
    if ray_address and ray_address not in ("auto", "local"):
        check_ray_form(ray_address)
    concurrent = 0 if ns.max_concurrent is None else ns.max_concurrent  # SweepOptions: 0 = what fits
    return SweepOptions(tracking_uri=ns.mlflow_uri, experiment=ns.experiment, storage_path=storage_uri(ns.storage),
                        resources=resources(ns), max_concurrent=concurrent, ray_address=ns.ray_address,
                        allow_spec_change=ns.allow_spec_change, autoscaling=ns.autoscaling,
                        tracking_outage_s=ns.tracking_outage, reuse=not ns.no_reuse,
                        keep_checkpoints=ns.keep_checkpoints, allow_data_change=ns.allow_data_change,
                        wait=ns.wait)


def sweep_main(description: str, file: str, *, get_ablation: Callable[[SweepArgs], Any] | None = None,
               get_search: Callable[[SweepArgs], Any] | None = None, flags: type | None = None,
               argv: list[str] | None = None) -> str:
    """Parse, declare, validate, run; print the table rebuilt from MLflow. Returns the Markdown table.

    ``get_ablation`` / ``get_search``: the file's declarations for the command line (``AblationSpec.for_args``,
    ``SearchSpec.for_args``, or a function ending in one); ``flags``: the frozen dataclass of the file's own flags
    (``pad_core.sweep_args``), read back as ``args.own``."""
    parser = build_parser(description)
    if flags is not None:
        add_own_flags(parser.add_argument_group("this sweep"), flags)
        typed_flags(parser)  # the file's own numeric and text flags get the same checks
    if get_ablation is None:
        parser.set_defaults(mode="search")  # a search-only file (sweeps/hpo.py)
    try:
        ns = parse(parser, argv)
        check_mode_flags(ns)
        name = check_name("--sweep-name", default_name(ns, file) if ns.sweep_name is None else ns.sweep_name)
        overrides = base_overrides(ns)
        args = SweepArgs.from_namespace(ns, name, overrides, weights=given_weights(ns, overrides), flags=flags)
        opts = options(ns)
        table, shown = run_mode(args, opts, get_ablation, get_search)
        if args.plan:
            return table
    except PadError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print("\n" + table + f"\n\nMLflow: {opts.tracking_uri}  (experiment {opts.experiment!r}, sweep {args.name!r})")
    print(f"Compare the runs: {browse_link(opts, shown)}")
    return table


def run_mode(args: SweepArgs, opts: SweepOptions, get_ablation: Callable | None,
             get_search: Callable | None) -> tuple[str, str]:
    """(Markdown table, sweep shown in MLflow) of the ablation grid, or of the search's confirmation stage. The
    sweep engine (Ray, MLflow, Optuna) is imported only where it runs: a plan and a refusal do without it."""
    if args.target_diff is not None and not (args.plan and args.mode == "ablation"):
        raise PadError("--target-diff", args.target_diff, "only --plan of an ablation reads it (it plans the seeds "
                       "of the sweep's table)", "add --plan, or drop --target-diff")
    if args.mode == "ablation":
        if get_ablation is None:
            raise PadError("--mode", "ablation", "this file declares no ablation rows", "use --mode search")
        spec = get_ablation(args)
        shadowed = spec.shadowed(set(parse_assignments(args.set)) - set(WEIGHT_FLAGS.values()))  # weights: row_weights
        if shadowed:
            raise PadError("--set", shadowed, "every row of this sweep sets these keys itself: --set changes nothing",
                           "drop them, or run your own rows (sweeps/rows.py --rows module:ROWS)")
        base, rows = with_weights(args, spec.base, spec.rows)
        spec = replace(spec, base=base, rows=rows)
        if args.scale == "rehearsal":
            base, rows = rehearse_rows(spec.base, spec.rows, opts.storage_path)
            spec = replace(spec, base=base, rows=rows)
        configs = {r.name: spec.row_config(r, spec.protocols[0], spec.seeds[0]) for r in spec.rows}
        check_weights(args, configs)
        if args.plan:
            from pad_core.integrations.planning import print_plan

            return print_plan(spec, storage_path=opts.storage_path, resources=opts.resources,
                              tracking_uri=opts.tracking_uri, experiment=opts.experiment, reuse=opts.reuse,
                              target_diff=args.target_diff), spec.name
        from pad_core.integrations.sweep import run_grid

        return run_grid(spec, opts), spec.name
    if get_search is None:
        raise PadError("--mode", "search", "this sweep declares no search space", "use --mode ablation")
    if args.plan:  # before the space is sampled dry (Optuna, the model factory): a plan of a search is refused
        raise PadError("--plan", "--mode search", "a search's cells are drawn while it runs, so there is no plan "
                       "of them", "plan the confirmed configurations as rows (sweeps/rows.py --plan)")
    search = get_search(args)
    check_search_inputs(args, search)
    search = replace(search, base=with_weights(args, search.base, ())[0])
    if args.scale == "rehearsal":
        search = replace(search, base=rehearse_rows(search.base, (), opts.storage_path)[0])
    check_weights(args, {"search base": from_flat(search.base)})
    stopping = {k: getattr(args, k) for k in ("scheduler", "grace_period", "reduction_factor")
                if getattr(args, k) is not None}
    search = replace(search, **stopping)
    if get_ablation is not None:  # the file's rows: its search may not draw them
        search = replace(search, rows=tuple(r.name for r in get_ablation(args).rows))
    from pad_core.integrations.search import run_search

    best, table = run_search(search, opts)
    print(f"\nBest configurations: {best}")
    return table, f"{search.name}-confirm"


def with_weights(args: SweepArgs, base: dict[str, Any], rows: tuple) -> tuple[dict[str, Any], tuple]:
    """The weights the command line names, over every row (cli_overrides.row_weights)."""
    from pad_core.models.torchvision_names import is_torchvision  # torch-free: a plan and a refusal need no torch

    return row_weights(base, rows, args.weights, args.run_scale, is_torchvision)


def check_weights(args: SweepArgs, configs: dict[str, Any]) -> None:
    """Before anything is recorded or started: no row starts from random init at a paper scale (unless
    --allow-random-init), and, when the sweep will run, every row's weights are there and fit (sweep_checks)."""
    from pad_core.models.random_init import check_random_init

    check_random_init(configs, args.run_scale, args.allow_random_init, args.weights)
    if not args.plan:  # a plan may be made away from the machines and files the sweep will run on
        from pad_core.integrations.sweep_checks import check_row_weights  # (Ray, MLflow: a plan does without)

        check_row_weights(configs)


def check_search_inputs(args: SweepArgs, search) -> None:
    """What a search would silently ignore or undermine: a --set key its space draws in every trial, and a
    confirmation seed equal to the seed the search trained on (its best would be confirmed on the seed that
    chose it)."""
    drawn = sorted(set(parse_assignments(args.set)) & always_drawn(search.space))
    if drawn:
        raise PadError("--set", ",".join(drawn), "the search space draws these keys in every trial: --set "
                       "changes nothing", "drop them, or narrow the search space (search_spaces/)")
    reused = sorted(set(search.confirm_seeds) & {search.search_seed})
    if reused:
        raise SweepError("--confirm-seeds", ",".join(map(str, search.confirm_seeds)), f"seed {reused[0]} is the "
                         "seed the search trains on: its best configurations would be confirmed on the seed that "
                         "chose them", "give fresh seeds, e.g. --confirm-seeds 100,101")


def browse_link(opts: SweepOptions, sweep: str) -> str:
    from pad_core.integrations.mlflow_ui import sweep_link

    return sweep_link(opts.tracking_uri, opts.experiment, sweep)  # read-only: creates nothing
