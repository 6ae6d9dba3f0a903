"""What the command line asks of the config, checked for what would be silently ignored or read from the wrong
folder (each refusal is ``<key>=<value>: <problem>. Fix: ...``, before anything is recorded):

- ``--set``: each key once; never a key the sweep sets itself per cell (``CELL_AXES``: the protocol and the seed
  come from ``--protocols`` / ``--seeds``); never a key whose own flag (``--data`` ...) is given as well.
- Flags that the chosen ``--mode`` does not read (``--num-samples`` in an ablation, ``--seeds`` in a search).
- Weights (``--pretrained``, ``--imagenet-weights``, or ``--set`` of their keys) reach every row: they are put over
  a row's own delta (:func:`row_weights`), so no row can shadow them.
- Local paths (``--data``, a ``--pretrained`` or ``--imagenet-weights`` file, ``--storage``): made absolute here,
  on the driver, because the preflight reads them from this folder while trials run in another one; URIs
  (``s3://``), ``synthetic:`` data, open_clip tags (``openai``) and ``torchvision`` (its cache) are kept as they are.
- S3 URIs: refused when no credentials can be found at all (not in the environment, a profile or an instance
  role), instead of a traceback from the first trial or from Tune.
- Resources per trial (:func:`check_resources`): whole GPUs are one DDP worker each; a fraction of a GPU (below 1)
  is one worker's share inside the Tune trial (several trials share the GPU); every share in Ray's 0.0001 steps.
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from fractions import Fraction
from typing import Any

from pad_core.config import CELL_AXES, parse_assignments
from pad_core.config.flat import parse_flat
from pad_core.config.scales import torchvision_scale_overrides
from pad_core.config.weight_names import is_weights_path
from pad_core.errors import ConfigError, SweepError
from pad_core.integrations.storage import check_credentials

WEIGHT_FLAGS = {"pretrained": "backbone.pretrained", "imagenet_weights": "backbone.imagenet_weights"}
FLAG_KEYS = {"backbone": "backbone.name", **WEIGHT_FLAGS, "data": "data.manifest"}
TORCHVISION_CACHE = "torchvision"  # backbone.imagenet_weights naming torchvision's own cache file, not a path
AXIS_FLAGS = {"data.protocol": "--protocols (a search: --search-protocol)",
              "train.seed": "--seeds (a search: --confirm-seeds)"}
SEARCH_ONLY = ("num_samples", "top_k", "confirm_seeds", "search_protocol", "scheduler", "grace_period",
               "reduction_factor")
ABLATION_ONLY = ("seeds",)  # a search trains on one seed and confirms on --confirm-seeds


def flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def assignments(ns: argparse.Namespace) -> dict[str, str]:
    """``--set`` as ``{key: text}``, refused where a key repeats, is a cell axis, or has its own flag given too."""
    keys = [item.partition("=")[0].strip() for item in ns.set]
    twice = [k for k, n in Counter(keys).items() if n > 1 and k]
    if twice:
        given = [item for item in ns.set if item.partition("=")[0].strip() in twice]
        raise ConfigError("--set", given, "the same key given more than once: only the last would count",
                          "give each key once")
    flat = parse_assignments(ns.set)
    for key, value in flat.items():
        if key in CELL_AXES:
            raise ConfigError(f"--set {key}", value, "the sweep sets this key itself in every cell, so --set would "
                              "be silently overridden", f"use {AXIS_FLAGS.get(key, 'the sweep flags')} instead")
        own = next((f for f, k in FLAG_KEYS.items() if k == key and getattr(ns, f, None) is not None), None)
        if own:
            raise ConfigError(f"--set {key}", value, f"{flag(own)} is given too: one of them would be ignored",
                              f"give it once, with {flag(own)}")
    try:
        parse_flat(flat)  # an unknown key or a value its field cannot hold: refused now, before any heavy import
    except ConfigError as err:  # the bad item as parsed (one element of a list), else the text as given
        raise ConfigError(f"--set {err.key}", flat.get(err.key) if err.value is None else err.value, err.problem,
                          err.fix) from None
    return flat


def check_mode_flags(ns: argparse.Namespace) -> None:
    """A flag the chosen mode does not read is refused, not dropped."""
    unread, other = (SEARCH_ONLY, "search") if ns.mode == "ablation" else (ABLATION_ONLY, "ablation")
    for dest in unread:
        value = getattr(ns, dest, None)
        if value is not None:
            fix = "add --mode search, or drop it" if other == "search" else \
                "a search trains on one seed and confirms its best on fresh seeds: use --confirm-seeds"
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            raise SweepError(flag(dest), shown, f"only --mode {other} reads it, and this run is --mode {ns.mode}",
                             fix)


SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # s3://, memory://, synthetic:iris, hf-hub:org/model


def is_local(uri: str) -> bool:
    """A path on this machine's disk: no ``scheme:`` in front (s3://, synthetic:, hf-hub:), not a chained URL."""
    return not SCHEME.match(uri) and "::" not in uri


def absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def names_a_file(pretrained: str) -> bool:
    """``--pretrained`` names weights on disk (not an open_clip tag such as ``openai``): an existing file, or a
    path with a folder or a weights suffix (a missing file then gets its absolute path in the refusal)."""
    return is_local(pretrained) and is_weights_path(pretrained)


def absolute_paths(flat: dict[str, Any]) -> dict[str, Any]:
    """The flat overrides with local data and weight paths made absolute (trials run in another folder)."""
    out = dict(flat)
    manifest = out.get("data.manifest")
    if isinstance(manifest, str) and manifest and is_local(manifest):
        out["data.manifest"] = absolute(manifest)
    for key in WEIGHT_FLAGS.values():
        weights = out.get(key)
        if isinstance(weights, str) and weights != TORCHVISION_CACHE and names_a_file(weights):
            out[key] = absolute(weights)
    for key in ("data.manifest", *WEIGHT_FLAGS.values()):
        if isinstance(out.get(key), str):
            check_credentials(out[key], key)
    return out


def given_weights(ns: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    """The weight keys the command line names (a flag, or ``--set`` of its key), with their checked values."""
    named = {key for dest, key in WEIGHT_FLAGS.items() if getattr(ns, dest, None) is not None}
    named |= set(parse_assignments(ns.set)) & set(WEIGHT_FLAGS.values())
    return {key: overrides[key] for key in named}


def row_weights(base: dict[str, Any], rows: tuple, given: dict[str, Any], scale: str,
                is_torchvision) -> tuple[dict[str, Any], tuple]:
    """``base`` and ``rows`` with the command line's weights (``given``) put over every row's delta, so no row
    shadows ``--pretrained`` / ``--imagenet-weights``; at the CPU scales a config on a torchvision backbone that names
    no ImageNet weights of its own gets the scale's (random init, scales.TORCHVISION_SCALES)."""
    from dataclasses import replace

    from pad_core.config.schema import BackboneCfg

    name = base.get("backbone.name", BackboneCfg.name)
    tv_scale = {k: v for k, v in torchvision_scale_overrides(scale).items() if k not in given}
    out = {**base, **(tv_scale if is_torchvision(name) else {}), **given}
    new_rows = []
    for row in rows:
        own = {k: v for k, v in tv_scale.items() if k not in row.delta}
        scaled = own if is_torchvision(row.delta.get("backbone.name", name)) else {}
        pinned = {k: v for k, v in given.items() if k in row.delta}  # the others inherit the flag from the base
        new_rows.append(replace(row, delta={**row.delta, **scaled, **pinned}))
    return out, tuple(new_rows)


def storage_uri(uri: str) -> str:
    """``--storage`` as every node reads it: an absolute local path (or NFS mount), or an s3:// URI with
    credentials to go with it."""
    check_credentials(uri, "--storage")
    return absolute(uri) if is_local(uri) else uri


def always_drawn(space) -> set[str]:
    """Config keys a search space sets in every dry draw: a ``--set`` of them would change nothing."""
    from pad_core.integrations.search_checks import probe

    draws = [set(params) | set(constants) for params, _, constants in probe(space)]
    return set.intersection(*draws) if draws else set()


RAY_STEP = Fraction(1, 10000)  # Ray holds resources in steps of 0.0001: a finer share is not what it would hold


def check_resources(ns: argparse.Namespace) -> None:
    """A GPU share per worker that Ray Train and Ray can hold as asked: above one GPU, whole GPUs with one DDP worker
    each (a Train worker's GPU is whole here: NCCL gives each rank its own device); below one, a fraction held by a
    single worker inside the Tune trial, so that several trials share the GPU."""
    for dest in ("gpus_per_trial", "cpus_per_worker"):
        check_step(flag(dest), getattr(ns, dest))
    gpus, workers = Fraction(repr(float(ns.gpus_per_trial))), ns.workers_per_trial
    if gpus <= 0:
        return
    if gpus < 1:
        check_fraction(ns.gpus_per_trial, workers, ns.always_ray_train)
    elif gpus.denominator != 1:
        low = int(gpus)
        raise SweepError("--gpus-per-trial", ns.gpus_per_trial, "above one GPU a trial holds whole GPUs, one "
                         "DDP worker each; only a trial below one GPU may hold a fraction",
                         f"give a whole number, --gpus-per-trial {low} or {low + 1}")
    elif workers is not None and workers != gpus:
        raise SweepError("--workers-per-trial", workers, f"with --gpus-per-trial {ns.gpus_per_trial:g} each worker "
                         f"would hold {float(gpus / workers):g} GPU, and a Ray Train (DDP) worker holds one whole GPU",
                         f"drop --workers-per-trial (one worker per GPU), or give --workers-per-trial {int(gpus)}")


def check_fraction(gpus: float, workers: int | None, always_ray_train: bool) -> None:
    """A fraction of a GPU is one worker's share inside the Tune trial: not several DDP workers, not Ray Train."""
    if workers is not None and workers > 1:
        raise SweepError("--gpus-per-trial", gpus, f"a fraction of a GPU is held by one worker inside the Tune "
                         f"trial, and --workers-per-trial {workers} asks for {workers} DDP workers (Ray Train workers "
                         "hold whole GPUs here)", f"drop --workers-per-trial, or give whole GPUs, one per worker: "
                         f"--gpus-per-trial {workers}")
    if always_ray_train:
        raise SweepError("--gpus-per-trial", gpus, "a fraction of a GPU trains inside the Tune trial, and "
                         "--always-ray-train asks for a Ray Train worker (they hold whole GPUs here)",
                         "drop --always-ray-train, or give --gpus-per-trial 1")


def check_step(name: str, value: float) -> None:
    """A resource amount Ray holds as given: a multiple of its 0.0001 step (0.00001 GPU would be held as 0)."""
    steps = Fraction(repr(float(value))) / RAY_STEP
    if steps.denominator != 1:
        near = float(max(RAY_STEP, round(steps) * RAY_STEP))
        raise ConfigError(name, value, "finer than Ray's resource step of 0.0001: Ray would not hold this "
                          "amount as given", f"give a multiple of 0.0001, e.g. {name} {near:g}")
