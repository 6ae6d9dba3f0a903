"""What a sweep checks before it records anything, and what it compares with the sweep it resumes.

Before MLflow: the storage takes a write (a folder that cannot be created or written failed inside Tune, after
the parent run existed), and every folder the sweep will name (the Tune experiment, each Ray Train run) fits the
255 bytes a file system allows per path component.

Weights: every row's weights (a tag, torchvision's cache file, a local file) are found and fit its architecture before
the data is read (which rows may start from random init: pad_core/models/random_init.py).

Against the parent run: the data manifests' content hashes (``pad.data_versions``, {manifest: sha256}). A cell's
key includes its data hash, so a manifest changed under the same sweep name had its cells trained again, silently,
beside the runs of the old data; now it is refused like a changed declaration unless ``--allow-data-change``.
"""

from __future__ import annotations

import json
import posixpath
import uuid

import pyarrow.fs

from pad_core.ablation import Cell
from pad_core.config.schema import DataCfg, RunCfg
from pad_core.errors import PadError, SweepError
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.options import Resources
from pad_core.integrations.storage import storage_for
from pad_core.integrations.trial import train_run_name

NAME_MAX = 255  # bytes per path component (ext4, xfs, btrfs, NFS exports of them; S3 keys allow more)
TRIAL_ID_MAX = 16  # a Tune trial id ("1a2b3_00012") in the Train run folder of a search trial
DATA_VERSIONS = "pad.data_versions"  # on the parent: {manifest: sha256} of the current declaration
DATA_VERSION = "pad.data_version"  # on each child: the sha256 of the manifest it trained on
SYNTHETIC = "synthetic:"


def check_declaration_size(spec) -> None:
    """The declaration (``pad.spec``, one tag on the parent run: the rows, protocols, seeds and config hashes the
    table is rebuilt from) must fit MLflow's tag limit: clipped, it would no longer parse, and the server refuses a
    longer value only once the parent run exists."""
    from mlflow.utils.validation import MAX_TAG_VAL_LENGTH

    size = len(spec.describe())
    if size > MAX_TAG_VAL_LENGTH:
        cells = len(spec.rows) * len(spec.protocols) * len(spec.seeds)
        raise SweepError("sweep", spec.name, f"its declaration ({len(spec.rows)} rows, {cells} cells) takes {size} "
                         f"characters; MLflow keeps a tag of at most {MAX_TAG_VAL_LENGTH}",
                         "split the rows over several sweeps (each its own --sweep-name, e.g. rows.py --rows of a "
                         "part); about 75 rows fit one")


def check_storage(uri: str) -> None:
    """Write (then remove) a file in the storage, after creating a local storage's folder: refuse a storage that
    will not take one. An S3 prefix needs no folder (and a bucket is not created as a side effect)."""
    path, remote = storage_for(uri)
    fs = remote or pyarrow.fs.LocalFileSystem()
    probe = posixpath.join(path, f".padsweep-write-check-{uuid.uuid4().hex[:12]}")
    try:
        if remote is None:
            fs.create_dir(path, recursive=True)
        with fs.open_output_stream(probe) as out:
            out.write(b"padsweep")
        fs.delete_file(probe)
    except Exception as err:  # noqa: BLE001 - OSError, botocore's, pyarrow's: each means "cannot write here"
        raise SweepError("--storage", uri, f"checkpoints and Tune state cannot be written there ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})",
                         "give a folder this user can write (--storage or PADSWEEP_STORAGE; on a cluster a shared "
                         "NFS path or s3://bucket/prefix with write access)") from None


def check_folder_names(sweep: str, names: list[str]) -> None:
    """Refuse a sweep whose Tune experiment folder (the sweep name) or a Ray Train run folder would not fit in one
    path component."""
    for name in names:
        size = len(name.encode())
        if size > NAME_MAX:
            spare = NAME_MAX - (size - len(sweep.encode()))
            shorter = f"a --sweep-name of at most {spare} bytes" if spare > 0 else "shorter row names"
            raise SweepError("--sweep-name", sweep, f"the folder {name[:60]!r}... would be {size} bytes long; "
                             f"file systems allow {NAME_MAX} per folder name", f"use {shorter}")


def grid_folders(sweep: str, cells: list[Cell], resources: Resources) -> list[str]:
    """Folders a grid names: the Tune experiment; on the Ray Train path each cell's Train run too."""
    return [sweep] + ([] if resources.trains_in_trial else [train_run_name(sweep, c.key) for c in cells])


def search_folders(sweep: str, resources: Resources) -> list[str]:
    """Folders a search names: its Tune experiment, its confirmation stage's; a Train run per trial (DDP)."""
    trial = train_run_name(sweep, f"search|{'x' * TRIAL_ID_MAX}")
    return [sweep, f"{sweep}-confirm"] + ([] if resources.trains_in_trial else [trial])


def data_key(data: DataCfg) -> str:
    """The manifest a data config reads: its URI, or for a generated benchmark the generator's settings."""
    if not data.manifest.startswith(SYNTHETIC):
        return data.manifest
    return (f"{data.manifest}?benchmark={data.benchmark}&scale={data.synth_scale:g}&size={data.synth_size}"
            f"&seed={data.synth_seed}")


def data_versions(digests: dict[DataCfg, str]) -> dict[str, str]:
    return {data_key(cfg): sha for cfg, sha in sorted(digests.items(), key=lambda kv: data_key(kv[0]))}


def check_data(record: SweepRecord, parent_id: str, versions: dict[str, str], allow: bool, *,
               fix: str = "") -> None:
    """Refuse a manifest whose content changed since the sweep recorded it (same URI, other sha256)."""
    stored = json.loads(record.client.get_run(parent_id).data.tags.get(DATA_VERSIONS) or "{}")
    for uri, new in versions.items():
        old = stored.get(uri)
        if old and old != new and not allow:
            raise SweepError("data", uri, f"the manifest changed since this sweep started (sha256 {old[:12]}… → "
                             f"{new[:12]}…)", fix or "use a new --sweep-name, or pass --allow-data-change to train the "
                             "cells again on the new data (runs of the old data are then left out of the table)")
        if old and old != new:
            print(f"[padsweep] data={uri}: the manifest changed (sha256 {old[:12]}… → {new[:12]}…): its cells train "
                  "again on the new data (--allow-data-change); runs of the old data are left out of the table",
                  flush=True)


def record_data(record: SweepRecord, parent_id: str, versions: dict[str, str]) -> None:
    record.client.set_tag(parent_id, DATA_VERSIONS, json.dumps(versions, sort_keys=True))


def check_some_finished(record: SweepRecord, parent_id: str, sweep: str) -> None:
    """A sweep of which no cell finished fails with the cells' reasons (not with "nothing to tabulate")."""
    runs = record.children(parent_id)
    if any(r.data.tags.get("pad.outcome") == "completed" and r.info.status == "FINISHED" for r in runs):
        return
    reasons = sorted({r.data.tags.get("pad.reason", "") for r in runs} - {""})
    shown = "; ".join(r[:300] for r in reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    raise SweepError("sweep", sweep, f"no cell finished: {len(runs)} run(s), none completed"
                     + (f" ({shown})" if shown else ""),
                     "read each run's pad.reason in MLflow, fix the cause and run the same command again (failed "
                     "cells are retried, finished ones kept)")



def check_row_weights(configs: dict[str, RunCfg]) -> None:
    """Every row's weights found and matched against its architecture on this driver, before any data is read (the
    preflight checks them again, cached, with the rest of each cell)."""
    from pad_core.models.factory import check_backbone_weights
    from pad_core.models.initial_weights import weights_key, weights_value

    for row, cfg in configs.items():
        key = weights_key(cfg)
        if not key:
            continue
        try:
            check_backbone_weights(cfg.backbone.name, weights_value(cfg), key)
        except PadError as err:
            raise SweepError(f"row {row!r}: {err.key}", err.value, err.problem, err.fix) from None
