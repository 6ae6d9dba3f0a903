"""``python -m pad_core <command>``: tables from MLflow, config keys, local training, data generation."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

from pad_core.errors import PadError


def _table(args: argparse.Namespace) -> None:
    """Read-only: the table is rebuilt from MLflow opened without writing (no experiment, run or file is made)."""
    csv = writable_file("--csv", args.csv) if args.csv is not None else None  # before anything is read
    from pad_core.integrations.mlflow_read import find_sweep
    from pad_core.integrations.mlflow_runs import SweepRecord
    from pad_core.integrations.publish import rebuild_table

    record = SweepRecord.read_only(args.mlflow_uri, args.experiment)
    experiment = record.client.get_experiment(record.experiment_id)
    parent = find_sweep(record.client, experiment, args.sweep)
    rendered, *_ = rebuild_table(record, parent.info.run_id, args.stage, args.allow_mixed_code, args.allow_mixed_data,
                                 args.interval)
    print(rendered.latex if args.format == "latex" else rendered.markdown)
    if csv:
        rendered.frame.to_csv(csv)


def writable_file(key: str, path: str) -> str:
    """``path`` as an absolute file path that can be written. Checked by writing a probe file in its folder (and
    removing it): permission bits do not tell, a root user on a read-only or virtual file system passes them."""
    full = os.path.abspath(os.path.expanduser(path))
    folder = os.path.dirname(full)
    problem = ("no file name" if not path.strip() else "it is a folder" if os.path.isdir(full) else
               f"folder {folder} does not exist" if not os.path.isdir(folder) else "")
    if not problem:
        try:
            if os.path.exists(full):
                open(full, "a").close()  # appending nothing changes neither its content nor its time
            else:
                tempfile.NamedTemporaryFile(dir=folder, prefix=".padsweep-probe-").close()
        except OSError as err:
            problem = f"folder {folder} refuses new files ({err.strerror or err})"
    if problem:
        raise PadError(key, path, f"cannot write there: {problem}", "give a file path in a writable folder")
    return full


def _keys(args: argparse.Namespace) -> None:
    from pad_core.config import RunCfg, render_value, to_flat

    for key, value in to_flat(RunCfg()).items():
        print(f"{key} = {render_value(value)}")


def _train(args: argparse.Namespace) -> None:
    from pad_core.config import from_flat, parse_assignments, scale_overrides
    from pad_core.config.scales import torchvision_scale_overrides
    from pad_core.engine import train
    from pad_core.models.initial_weights import weights_key
    from pad_core.models.random_init import check_random_init
    from pad_core.models.variants import VARIANTS

    given = parse_assignments(args.set)
    cfg = from_flat({**scale_overrides(args.scale), **VARIANTS.get(args.variant), **given})
    if weights_key(cfg) == "backbone.imagenet_weights":  # CPU scales: torchvision rows from random init, as sweeps
        cfg = from_flat({**torchvision_scale_overrides(args.scale), **given}, cfg)
    check_random_init({args.variant: cfg}, args.scale, allow=False, named=given)
    metrics = train(cfg)
    print(json.dumps({k: round(v, 5) for k, v in metrics.items() if k.startswith("test/")}, indent=1))


def _audit(args: argparse.Namespace) -> None:
    from pad_core.audit import audit_variants

    findings = audit_variants(args.scale)
    for f in findings:
        print(f"FAIL {f}")
    print(f"audit: {len(findings)} finding(s) over the registered variants at scale {args.scale!r}")
    if findings:
        raise SystemExit(1)


def _data(args: argparse.Namespace) -> None:
    from pad_core.config import DataCfg, from_flat, parse_assignments
    from pad_core.data import resolve_manifest_uri

    cfg: DataCfg = from_flat(parse_assignments(args.set)).data
    print(resolve_manifest_uri(cfg))


def _import(args: argparse.Namespace) -> None:
    from pathlib import Path

    from pad_core.data.importers import IMPORTERS, ImportOptions, load_all, run_import

    load_all()
    if args.list or not args.dataset:
        for name in IMPORTERS.list():
            importer = IMPORTERS.get(name)
            print(f"{name} (benchmark {importer.benchmark}; {importer.source})\n    {importer.layout}\n")
        return
    if not args.root:
        raise PadError("ROOT", None, "no dataset folder given", f"python -m pad_core import {args.dataset} ROOT")
    out = Path(args.out or Path(args.root) / "padsweep_manifest.parquet")
    options = ImportOptions(out=out, frames_per_video=args.frames_per_video, seed=args.seed, faces=args.faces,
                            face_margin=args.face_margin, crop_size=args.crop_size, skip_unknown=args.skip_unknown)
    frame = run_import(args.dataset, args.root, options)
    counts = frame.groupby(["split", "label"]).size().to_dict() if "split" in frame else {}
    print(f"wrote {out} ({len(frame)} rows; benchmark {IMPORTERS.get(args.dataset).benchmark}); "
          f"rows by (split, label): {counts}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pad_core", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("table", help="rebuild a sweep's table from MLflow alone (reads only)")
    t.add_argument("--sweep", required=True)
    t.add_argument("--mlflow-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    t.add_argument("--experiment", default="padsweep")
    t.add_argument("--stage", default=None, help="ablation | confirm (default: all finished runs)")
    t.add_argument("--csv", help="also write the table as CSV here")
    t.add_argument("--format", choices=("markdown", "latex"), default="markdown", help="what to print")
    t.add_argument("--interval", choices=("ci", "std"), default=None,
                   help="cells as mean [95%% bootstrap CI] from the runs' test scores (ci; default when the runs have "
                   "scores.csv) or mean±std over seeds (std)")
    t.add_argument("--allow-mixed-code", action="store_true",
                   help="tabulate runs whose code version differs from the sweep's (refused by default)")
    t.add_argument("--allow-mixed-data", action="store_true",
                   help="tabulate runs whose data version (manifest sha256) differs from the sweep's (refused by "
                   "default)")
    t.set_defaults(func=_table)
    sub.add_parser("keys", help="list every flat config key with its default").set_defaults(func=_keys)
    r = sub.add_parser("train", help="train one config locally, without Ray or MLflow")
    r.add_argument("--variant", default="mmoe")
    r.add_argument("--scale", default="demo")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    r.set_defaults(func=_train)
    a = sub.add_parser("audit", help="build every registered variant next to vanilla CLIP; fail on dead toggles")
    a.add_argument("--scale", default="smoke")
    a.set_defaults(func=_audit)
    d = sub.add_parser("data", help="generate (or find) a synthetic benchmark; prints its manifest path")
    d.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    d.set_defaults(func=_data)
    i = sub.add_parser("import", help="turn a downloaded dataset (its published layout) into a manifest; --list "
                       "names the importers and the layout each expects")
    i.add_argument("dataset", nargs="?", help="importer name (see --list)")
    i.add_argument("root", nargs="?", help="the dataset's top folder, as downloaded")
    i.add_argument("--out", help="manifest to write, .parquet or .csv (default ROOT/padsweep_manifest.parquet); "
                   "image paths are stored relative to its folder, which must hold them")
    i.add_argument("--list", action="store_true", help="list the importers and their layouts")
    i.add_argument("--frames-per-video", type=int, default=8, help="frames sampled per video (uniform, seeded)")
    i.add_argument("--seed", type=int, default=0, help="frame-sampling seed")
    i.add_argument("--faces", default="none", help="'shipped' (the dataset's own boxes/landmarks), a detector "
                   "name (haar), or 'none' (images are already face crops)")
    i.add_argument("--face-margin", type=float, default=0.2, help="crop margin around a face box (fraction)")
    i.add_argument("--crop-size", type=int, default=256, help="side of saved crops and frames (0 = original)")
    i.add_argument("--skip-unknown", action="store_true", help="leave files the layout does not explain out of "
                   "the manifest (they are listed in the .problems.txt report)")
    i.set_defaults(func=_import)
    from pad_core.pretrain.command import add_parser as add_pretrain

    add_pretrain(sub)  # python -m pad_core pretrain
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except PadError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
