"""Whole training step (forward + backward + optimizer step) of MMoE-CLIP / vanilla CLIP, against their FLOP ratio.

Models, losses and optimiser come from the project (``create_model``, ``total_loss``, ``build_optimizer``), built
from the variants the MMoE sweeps use (``clip`` = vanilla CLIP, ``mmoe`` = SoftMoE in every visual block +
mask rates (0, .1, .1, .1) + cosine loss) at a run scale: ``tiny`` = the ``demo`` scale (pad-tiny-vit, 64 px,
batch 32), ``vitb16`` = the ``paper`` scale (ViT-B-16-quickgelu, 224 px, random init). The step mirrors
``TrainingRun.train_step`` (autocast, loss, finiteness check, zero_grad, backward, optimiser and scheduler step)
on a fixed random batch, so data loading is excluded (see bench/loader.py). FLOPs of one step come from
``FlopCounterMode``. Goal: time ratio <= 1.1 x FLOP ratio.

    .venv/bin/python bench/train_step.py [--quick] [--size tiny|vitb16] [--variants mmoe,moae] [--json OUT]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from pad_core.config import scale_overrides
from pad_core.engine.heap import keep_freed_memory
from pad_core.engine.optim import build_optimizer
from pad_core.losses import total_loss
from pad_core.models import create_model
from pad_core.models.backbones import backbone_info
from pad_core.models.factory import resolve_run_cfg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root holds bench/

from bench.common import add_device_args, autocast, base_parser, emit, machine, md_table, ratios, setup, spread  # noqa: E402
from bench.common import time_interleaved as interleaved  # noqa: E402

# size -> (backbone, scale, overrides, default batch on CPU, reps, warm-up)
SIZES = {
    "tiny": ("pad-tiny-vit", "demo", {}, 32, 10, 2),
    "vitb16": ("ViT-B-16-quickgelu", "paper", {"backbone.pretrained": ""}, 4, 2, 1),
}
GOAL = 1.10  # time ratio <= GOAL x FLOP ratio
BASELINE = "clip"


@dataclass
class Trainer:
    """One model's training step on a fixed batch, with its FLOPs and size."""

    variant: str
    step: Callable[[], None]
    flops: int
    params: int
    batch: int


def run_cfg(variant: str, size: str, overrides: dict | None = None):
    backbone, scale, extra, *_ = SIZES[size]
    return resolve_run_cfg(variant, {**scale_overrides(scale), **extra, "backbone.name": backbone,
                                     **(overrides or {})})


def make_step(cfg, model, images, labels, device: str, dtype: str) -> Callable[[], None]:
    """``TrainingRun.train_step`` on a fixed batch (the optimiser kernel is ``optim.impl``)."""
    optimizer, scheduler = build_optimizer(model, cfg.optim, cfg.train.steps)

    def step() -> None:
        with autocast(device, dtype):
            out = model(images)
            loss, _ = total_loss(out, labels, cfg.head.loss, cfg.loss)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {float(loss)}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        optimizer.step()
        scheduler.step()

    return step


def count_flops(fn: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def build_trainer(variant: str, size: str, batch: int, device: str = "cpu", dtype: str = "fp32",
                  overrides: dict | None = None) -> Trainer:
    cfg = run_cfg(variant, size, overrides)
    torch.manual_seed(0)
    model = create_model(cfg).to(device).train()
    side = backbone_info(cfg.backbone.name).image_size
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(batch, 3, side, side, generator=gen).to(device)
    labels = (torch.arange(batch) % 2).to(device)  # both classes, as the balanced sampler draws them
    step = make_step(cfg, model, images, labels, device, dtype)
    params = sum(p.numel() for p in model.parameters())
    return Trainer(variant, step, count_flops(step), params, batch)


def measure(trainers: dict[str, Trainer], reps: int, warmup: int, device: str) -> dict[str, list[float]]:
    return interleaved({name: t.step for name, t in trainers.items()}, reps=reps, warmup=warmup, device=device)


def model_table(trainers: dict[str, Trainer], times: dict[str, list[float]]) -> str:
    rows = []
    for name, t in trainers.items():
        s = spread(times[name])
        rows.append([name, f"{t.params / 1e6:.1f}", f"{t.flops / 1e9:.1f}", s.fmt(1, 1e3),
                     f"{t.batch / s.median:.1f}", f"{t.flops / s.median / 1e9:.1f}"])
    return md_table(["variant", "params (M)", "GFLOP / step", "ms / step median [IQR]", "img/s", "GFLOP/s"], rows)


def ratio_rows(trainers: dict[str, Trainer], times: dict[str, list[float]]) -> list[dict]:
    base = trainers[BASELINE]
    out = []
    for name, t in trainers.items():
        if name == BASELINE:
            continue
        r = spread(ratios(times[name], times[BASELINE]))
        flop_ratio = t.flops / base.flops
        out.append({"variant": name, "time_ratio": r, "flop_ratio": flop_ratio,
                    "overhead": r.median / flop_ratio, "met": r.median <= GOAL * flop_ratio})
    return out


def ratio_table(rows: list[dict]) -> str:
    body = [[f"{r['variant']} / {BASELINE}", f"{r['time_ratio'].fmt(3)} ({r['time_ratio'].lo:.3f}–"
             f"{r['time_ratio'].hi:.3f})", f"{r['flop_ratio']:.3f}", f"{r['overhead']:.3f}",
             f"≤ {GOAL:.2f} x FLOP ratio = {GOAL * r['flop_ratio']:.3f}", "yes" if r["met"] else "no"]
            for r in rows]
    return md_table(["ratio", "time ratio median [IQR] (min–max)", "FLOP ratio", "time ratio / FLOP ratio", "goal",
                     "met"], body)


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__)
    add_device_args(parser)
    parser.add_argument("--size", default="tiny", choices=tuple(SIZES))
    parser.add_argument("--variants", default="mmoe", help="comma list of model variants compared to vanilla CLIP")
    parser.add_argument("--batch", type=int, default=0, help="batch size (0 = the size's default)")
    parser.add_argument("--optimizer-impl", default="fused", choices=("fused", "foreach", "single"),
                        help="optim.impl: the optimiser kernel (the project's default: fused)")
    parser.add_argument("--no-heap-reuse", action="store_true",
                        help="train.cpu_heap_reuse=false: glibc's default allocator behaviour (process-wide)")
    args = parser.parse_args(argv)
    setup(args)
    _, scale, _, batch, reps, warmup = SIZES[args.size]
    batch = args.batch or (8 if args.quick else batch)
    reps = args.reps or (2 if args.quick else reps)
    warmup = args.warmup or (1 if args.quick else warmup)
    names = [BASELINE, *[v for v in args.variants.split(",") if v != BASELINE]]
    overrides = {"optim.impl": args.optimizer_impl, "train.cpu_heap_reuse": not args.no_heap_reuse}
    if overrides["train.cpu_heap_reuse"] and args.device == "cpu":
        keep_freed_memory()  # as TrainingRun does on a CPU
    trainers = {v: build_trainer(v, args.size, batch, args.device, args.dtype, overrides) for v in names}
    times = measure(trainers, reps, warmup, args.device)
    rows = ratio_rows(trainers, times)
    head = (f"### {args.size} ({SIZES[args.size][0]}, {scale} scale), batch {batch}, {reps} reps after {warmup} "
            f"warm-up; step = forward + backward + {run_cfg(BASELINE, args.size).optim.name} step "
            f"(optim.impl={args.optimizer_impl}, heap reuse {'off' if args.no_heap_reuse else 'on'})")
    emit("Training step: MoE-CLIP / vanilla CLIP vs FLOP ratio", machine(args.device, args.dtype),
         [head, model_table(trainers, times), ratio_table(rows)],
         {"size": args.size, "batch": batch, "models": {n: {"flops": t.flops, "params": t.params,
                                                            "step_s": spread(times[n])} for n, t in trainers.items()},
          "ratios": rows}, args.json)
    return {"ratios": rows, "trainers": trainers, "times": times}


if __name__ == "__main__":
    main()
