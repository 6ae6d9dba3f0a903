"""What checkpointing costs a paper-scale (ViT-B/16 MMoE) trial: bytes, save and upload seconds, and its share of
the trial's wall time on an A100 under the old policy and the lean one.

Measured here, on this CPU: the checkpoint of a random-init ViT-B-16-quickgelu with the MMoE row (Adam state
populated by one step) in the old layout (one ``state.pt`` holding the best-dev weights too) and the new one
(``state.pt`` without them; ``best.pt`` only when the dev metric improved); ``torch.save`` seconds for each; upload
seconds to a local SeaweedFS S3 server through the cells' checkpoint store.

Computed: the share of a trial's wall time spent checkpointing, for ``--steps`` steps of ``--step-seconds`` with an
evaluation every ``--eval-every`` steps:
- old: every evaluation serialises the full 3-part state and uploads it while every GPU waits;
- new: the serialisation of the state stays on the training thread (plus the best file on the evaluations that
  improve it); the upload runs in the background and costs training time only where it outlasts the interval to
  the next checkpoint (the next save waits for it). ``--checkpoint-minutes`` thins the checkpoints by wall time.
Serialisation and upload rates default to those measured here; pass an A100 node's with ``--host-gbps`` and
``--upload-gbps``.

    .venv/bin/python bench/checkpoint_cost.py [--step-seconds 0.12] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root holds pad_core/

from pad_core.config import from_flat  # noqa: E402
from pad_core.engine import checkpoint  # noqa: E402
from pad_core.engine.optim import build_optimizer  # noqa: E402
from pad_core.engine.seed import rng_state  # noqa: E402
from pad_core.models import create_model  # noqa: E402
from pad_core.models.variants import VARIANTS  # noqa: E402

GB = 1e9


def paper_model():
    """ViT-B-16-quickgelu with the MMoE row, random init; Adam's moments exist (one step on zero gradients)."""
    cfg = from_flat({**VARIANTS.get("mmoe"), "backbone.pretrained": ""})
    model = create_model(cfg)
    optimizer, scheduler = build_optimizer(model, cfg.optim, cfg.train.steps)
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.zeros_like(p)
    optimizer.step()
    scheduler.step()
    return cfg, model, optimizer, scheduler


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(work: Path) -> dict[str, float]:
    figures = save_both(work / "old", work / "new")  # the model is freed on return: the upload needs the memory
    figures.update(upload(work, work / "old", work / "new"))
    return figures


def save_both(old_dir: Path, new_dir: Path) -> dict[str, float]:
    cfg, model, optimizer, scheduler = paper_model()
    best = checkpoint.cpu_weights(model)
    state = checkpoint.TrainState(step=100, best_step=100, best_metric=0.1, best_weights=best)
    old_dir.mkdir()
    old_s = timed(lambda: torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                      "scheduler": scheduler.state_dict(), "state": state,
                                      "rng": torch.get_rng_state()}, old_dir / checkpoint.STATE_FILE))
    state_s = timed(lambda: checkpoint.save(str(new_dir), model, optimizer, scheduler, state, [rng_state()]))
    best_s = timed(lambda: torch.save({"step": state.best_step, "weights": best}, new_dir / checkpoint.BEST_FILE))
    size = lambda path: os.path.getsize(path) / GB  # noqa: E731
    return {"params_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "old_gb": size(old_dir / checkpoint.STATE_FILE), "old_save_s": old_s,
            "state_gb": size(new_dir / checkpoint.STATE_FILE), "state_save_s": state_s,
            "best_gb": size(new_dir / checkpoint.BEST_FILE), "best_save_s": best_s}


def upload(work: Path, old_dir: Path, new_dir: Path) -> dict[str, float]:
    """Upload seconds of both layouts to a local SeaweedFS server (loopback: an upper bound on the rate)."""
    from pad_core.integrations import services
    from pad_core.integrations.cell_checkpoints import CellCheckpoints
    from pad_core.integrations.services.s3 import s3_env

    svc = services.start_seaweedfs(work / "s3", "AKIABENCHCKPT", "bench-checkpoint-secret", buckets=("bench",))
    try:
        os.environ.update(s3_env(svc, "AKIABENCHCKPT", "bench-checkpoint-secret"))
        cells = CellCheckpoints("s3://bench/padsweep", "bench", "checkpoint-cost")
        old_up = timed(lambda: cells.save(str(old_dir), 100))
        best = new_dir / checkpoint.BEST_FILE
        best_up = timed(lambda: CellCheckpoints("s3://bench/padsweep", "bench", "best-only").save(
            str(_only(work, best)), 100))
        best.unlink()
        state_up = timed(lambda: cells.save(str(new_dir), 200))
        cells.delete()
    finally:
        services.stop(svc)
    return {"old_upload_s": old_up, "state_upload_s": state_up, "best_upload_s": best_up}


def _only(work: Path, file: Path) -> Path:
    folder = work / "best-only"
    folder.mkdir()
    shutil.copy(file, folder / file.name)
    return folder


def share(f: dict[str, float], args: argparse.Namespace) -> dict[str, float]:
    """Checkpointing's share of a trial's wall time under each policy."""
    host = args.host_gbps or f["state_gb"] / f["state_save_s"]  # serialisation rate, GB/s
    up = args.upload_gbps or f["state_gb"] / f["state_upload_s"]
    train_s = args.steps * args.step_seconds
    evals = args.steps // args.eval_every
    improving = max(1, round(evals * args.improving))
    old = evals * ((f["old_gb"]) / host + f["old_gb"] / up)
    result = {"train_s": train_s, "evals": evals, "host_gbps": host, "upload_gbps": up,
              "old_share": old / (train_s + old)}
    for minutes in (0.0, *args.checkpoint_minutes):
        interval = max(args.eval_every * args.step_seconds, 60 * minutes)  # training seconds between checkpoints
        saves = min(evals, max(1, int(train_s // interval)))
        kept = improving * saves / evals  # improvements that coincide with a written checkpoint
        on_thread = saves * f["state_gb"] / host + kept * f["best_gb"] / host
        upload_s = f["state_gb"] / up + (kept / saves) * f["best_gb"] / up  # per checkpoint, mean
        waits = saves * max(0.0, upload_s - interval)  # the next save waits for an upload still in flight
        result[f"new_share_{minutes:g}min"] = (on_thread + waits) / (train_s + on_thread + waits)
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--step-seconds", type=float, default=0.12,
                   help="A100 step time, ViT-B/16 MMoE bf16, batch 32 (assumed; docs/BENCHMARKS.md has none)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--improving", type=float, default=0.25, help="share of evaluations that improve the dev EER")
    p.add_argument("--checkpoint-minutes", type=float, nargs="*", default=[2.0, 5.0],
                   help="train.checkpoint_minutes values to project besides 0 (every evaluation)")
    p.add_argument("--host-gbps", type=float, default=0.0, help="serialisation rate on the GPU node (0 = measured)")
    p.add_argument("--upload-gbps", type=float, default=0.0, help="upload rate to the storage (0 = measured)")
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--figures", help="measured figures from an earlier --json: only recompute the shares")
    args = p.parse_args(argv)
    if args.figures:
        figures = {k: v for k, v in json.loads(Path(args.figures).read_text()).items()
                   if k.endswith(("_gb", "_s", "_m")) and k != "train_s"}
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
        work = Path(tempfile.mkdtemp(prefix="ckptcost-"))
        try:
            figures = measure(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    figures.update(share(figures, args))
    for key, value in figures.items():
        print(f"{key:>22}: {value:.4g}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
