"""Data loader throughput (decode + augment) per core vs what a training step consumes, on the synthetic benchmark.

The pipeline is the project's: ``prepare`` (synthetic iris benchmark materialised in the on-disk cache, the
``demo`` scale's data settings), ``make_dataset`` (PNG decode, resize to the model side, FLIP flip + saturation
jitter, CLIP normalisation) and ``StepBatchSampler`` (balanced batches with per-sample augmentation seeds), fed
through ``torch.utils.data.DataLoader`` as ``TrainingRun`` does.

- In-process loop (num_workers=0, one torch thread: what one loader core delivers), interleaved with training steps
  of the tiny model (bench/train_step.py) on the same batch size; ratio = loader images/s / images/s a step
  consumes (batch / step time). Goal >= 2.
- DataLoader with 1 and 2 worker processes: images/s and images/s per worker.
- Cached vs uncached: decoding from the synthetic cache vs rendering each image on the fly (what the cache saves).
- ViT-B/16 path (64 px PNG -> bicubic 224 + augment + normalise) per core, and the loader cores an A100 needs.

    .venv/bin/python bench/loader.py [--quick] [--json OUT]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from pad_core.config import scale_overrides
from pad_core.data import synthetic
from pad_core.data.dataset import StepBatchSampler, flip_and_saturate
from pad_core.data.families import make_dataset
from pad_core.data.prepare import prepare
from pad_core.data.synthetic import iris
from pad_core.models.backbones import norm_stats
from pad_core.models.factory import resolve_run_cfg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root holds bench/

from bench.common import Spread, base_parser, emit, machine, md_table, ratios, setup, spread, time_interleaved  # noqa: E402
from bench.train_step import build_trainer  # noqa: E402

GOAL = 2.0  # loader images/s per core >= GOAL x images/s a training step consumes
# A100 assumptions for ViT-B/16: 17.6 GMAC per 224 px forward (DeiT/timm figure) = 35.2 GFLOP; forward + backward
# = 3 x forward; 312 TFLOP/s bf16 dense peak at 40 % model-FLOP utilisation.
VITB16_FWD_GFLOP, A100_PEAK_TFLOPS, A100_MFU = 2 * 17.6, 312.0, 0.40


def data_cfg(backbone: str = "pad-tiny-vit", scale: str = "demo"):
    """The demo scale's data settings (``--quick``: the smoke scale's smaller benchmark) for ``backbone``."""
    return resolve_run_cfg("mmoe", {**scale_overrides(scale), "backbone.name": backbone})


def train_dataset(cfg):
    data = prepare(cfg.data, verify_images=False)
    mean, std = norm_stats(cfg.backbone.norm_stats)
    m = data.manifest
    return make_dataset(cfg, data.train, m.fs, m.root, split="train", protocol=data.protocol, mean=mean,
                        std=std), data


def batches(dataset, frame, batch: int, workers: int) -> Iterator:
    sampler = StepBatchSampler(frame, batch, seed=0, balanced=True)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=workers,
                        generator=torch.Generator().manual_seed(0), persistent_workers=workers > 0)
    return iter(loader)


def one_thread(fn: Callable[[], object]) -> Callable[[], object]:
    """Run ``fn`` on one torch thread, as a DataLoader worker does."""

    def wrapped():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn()
        finally:
            torch.set_num_threads(threads)

    return wrapped


def in_process_vs_step(dataset, frame, batch: int, args) -> dict:
    """Loader batch time (num_workers=0, one thread) interleaved with training steps of both tiny models."""
    it = batches(dataset, frame, batch, 0)
    fns = {"loader": one_thread(lambda: next(it))}
    for variant in ("clip", "mmoe"):
        fns[variant] = build_trainer(variant, "tiny", batch).step
    times = time_interleaved(fns, reps=args.reps, warmup=args.warmup)
    out = {"loader_img_s": spread([batch / t for t in times["loader"]])}
    for variant in ("clip", "mmoe"):
        out[f"{variant}_img_s"] = spread([batch / t for t in times[variant]])
        out[f"{variant}_ratio"] = spread(ratios(times[variant], times["loader"]))  # = loader img/s / consumed
    return out


def worker_throughput(dataset, frame, batch: int, workers: int, n_batches: int, reps: int) -> Spread:
    it = batches(dataset, frame, batch, workers)
    for _ in range(max(2, workers * 2)):  # start-up and the prefetch queue
        next(it)
    rates = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(n_batches):
            next(it)
        rates.append(n_batches * batch / (time.perf_counter() - start))
    del it
    return spread(rates)


def render_uncached(dataset, rows: list[dict], size: int) -> Callable[[], None]:
    """Render, augment and normalise one batch without the cache (what materialize saves per image)."""
    state = {"i": 0}

    def run() -> None:
        for _ in range(32):
            row = rows[state["i"] % len(rows)]
            state["i"] += 1
            img = Image.fromarray(iris.render_row(row, size)).convert("RGB")  # as ManifestImages.load
            x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
            x = flip_and_saturate(x, torch.Generator().manual_seed(state["i"]))
            (x - dataset.mean) / dataset.std

    return run


def cached_vs_uncached(dataset, frame, args) -> dict:
    cfg = data_cfg(scale=args.scale)
    rows = iris.plan_rows(cfg.data.synth_scale, cfg.data.synth_seed)
    it = batches(dataset, frame, 32, 0)
    fns = {"cached": one_thread(lambda: next(it)),
           "uncached": one_thread(render_uncached(dataset, rows, cfg.data.synth_size))}
    times = time_interleaved(fns, reps=args.reps, warmup=1)
    start = time.perf_counter()
    synthetic.materialize(cfg.data.manifest, scale=cfg.data.synth_scale, size=cfg.data.synth_size,
                          seed=cfg.data.synth_seed)
    hit_ms = (time.perf_counter() - start) * 1e3
    return {"cached_img_s": spread([32 / t for t in times["cached"]]),
            "uncached_img_s": spread([32 / t for t in times["uncached"]]),
            "speedup": spread(ratios(times["uncached"], times["cached"])), "cache_hit_ms": hit_ms,
            "side": cfg.data.synth_size}


def vitb16_projection(args) -> dict:
    cfg = data_cfg("ViT-B-16-quickgelu", args.scale)
    dataset, data = train_dataset(cfg)
    it = batches(dataset, data.train, 32, 0)
    times = time_interleaved({"loader": one_thread(lambda: next(it))}, reps=args.reps, warmup=1)["loader"]
    per_core = spread([32 / t for t in times])
    gpu_img_s = A100_PEAK_TFLOPS * 1e12 * A100_MFU / (3 * VITB16_FWD_GFLOP * 1e9)
    return {"side": dataset.image_size, "per_core_img_s": per_core, "a100_img_s": gpu_img_s,
            "cores_at_goal": GOAL * gpu_img_s / per_core.median, "cores_no_margin": gpu_img_s / per_core.median}


def tables(r: dict, batch: int) -> list[str]:
    s = r["step"]
    step_rows = [[f"{v} (tiny, batch {batch})", s[f"{v}_img_s"].fmt(0), s["loader_img_s"].fmt(0),
                  f"{s[f'{v}_ratio'].fmt(2)} ({s[f'{v}_ratio'].lo:.2f}–{s[f'{v}_ratio'].hi:.2f})", f"≥ {GOAL:.0f}",
                  "yes" if s[f"{v}_ratio"].median >= GOAL else "no"] for v in ("clip", "mmoe")]
    t1 = md_table(["training step", "img/s consumed", "loader img/s (1 core, in-process)",
                   "loader / consumed median [IQR] (min–max)", "goal", "met"], step_rows)
    t2 = md_table(["DataLoader", "img/s median [IQR]", "img/s per worker"],
                  [[f"num_workers={w}", r["workers"][w].fmt(0), f"{r['workers'][w].median / w:.0f}"]
                   for w in sorted(r["workers"])])
    c = r["cache"]
    t3 = md_table([f"path ({r['cache']['side']} px PNG, 1 core)", "img/s median [IQR]", "vs cached"],
                  [["cached: decode PNG from the synthetic cache + augment", c["cached_img_s"].fmt(0), "1"],
                   ["uncached: render the image + augment", c["uncached_img_s"].fmt(0),
                    f"cached is {c['speedup'].fmt(1)}x faster"],
                   ["materialize() on a cache hit", f"{c['cache_hit_ms']:.1f} ms per call", "—"]])
    v = r["vitb16"]
    t4 = md_table(["ViT-B/16 on an A100", "value"], [
        [f"loader img/s per core at {v['side']} px ({c['side']} px PNG, bicubic up-sample, augment)",
         v["per_core_img_s"].fmt(0)],
        [f"A100 ViT-B/16 train img/s = {A100_PEAK_TFLOPS:g} TFLOP/s x {A100_MFU:.0%} MFU / (3 x {VITB16_FWD_GFLOP:.1f} "
         "GFLOP)", f"{v['a100_img_s']:.0f}"],
        ["loader cores per GPU at the 2x goal", f"{v['cores_at_goal']:.1f}"],
        ["loader cores per GPU with no margin (1x)", f"{v['cores_no_margin']:.1f}"]])
    return [t1, t2, t3, t4]


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--batch", type=int, default=0, help="batch size (0 = the demo scale's 32; --quick: 8)")
    parser.add_argument("--batches", type=int, default=0, help="batches per DataLoader timing (0 = default)")
    args = parser.parse_args(argv)
    setup(args)
    args.reps = args.reps or (2 if args.quick else 10)
    args.warmup = args.warmup or (1 if args.quick else 2)
    batch = args.batch or (8 if args.quick else 32)
    args.scale = "smoke" if args.quick else "demo"
    dataset, data = train_dataset(data_cfg(scale=args.scale))
    results = {"step": in_process_vs_step(dataset, data.train, batch, args),
               "workers": {w: worker_throughput(dataset, data.train, batch, w, args.batches or (2 if args.quick
                                                                                             else 10), args.reps)
                           for w in ((1,) if args.quick else (1, 2))},
               "cache": cached_vs_uncached(dataset, data.train, args), "vitb16": vitb16_projection(args)}
    head = (f"### synthetic iris benchmark, {args.scale} scale ({len(data.train)} train images, "
            f"{data_cfg(scale=args.scale).data.synth_size} px PNG -> {dataset.image_size} px), "
            f"{args.reps} reps after {args.warmup} warm-up")
    emit("Data loader throughput vs training-step consumption", machine(), [head, *tables(results, batch)],
         results, args.json)
    return results


if __name__ == "__main__":
    main()
