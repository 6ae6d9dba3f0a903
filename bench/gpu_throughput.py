"""GPU training throughput: ViT-B/16 MMoE-CLIP img/s / vanilla open_clip ViT-B/16 img/s at the same batch, and MFU.

Both models are the project's (``create_model`` on the ``mmoe`` and ``clip`` variants, paper scale, random init),
trained by the ``TrainingRun.train_step`` mirror of bench/train_step.py under bf16 autocast on a fixed batch
(data loading excluded). FLOPs per step come from ``FlopCounterMode``; MFU = FLOPs / step time / peak, with the
peak from ``--peak-tflops`` (default 989 = H100 SXM bf16 dense; A100: 312). Goal: MMoE / vanilla img/s >= 0.55.
With ``--quick`` it runs the tiny model on the CPU in fp32 (a smoke test; its MFU against a GPU peak means
nothing).

    .venv/bin/python bench/gpu_throughput.py [--batch 64] [--peak-tflops 989] [--variants mmoe,moae,sue] [--json OUT]
    .venv/bin/python bench/gpu_throughput.py --quick
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root holds bench/

from bench.common import add_device_args, base_parser, emit, machine, md_table, ratios, setup, spread, synchronize  # noqa: E402
from bench.train_step import BASELINE, SIZES, build_trainer, measure  # noqa: E402

GOAL = 0.55  # MoE img/s / vanilla img/s >= GOAL


def peak_memory_gib(step, device: str) -> float | None:
    if torch.device(device).type != "cuda":
        return None
    synchronize(device)
    torch.cuda.reset_peak_memory_stats()
    step()
    synchronize(device)
    return torch.cuda.max_memory_allocated() / 2**30


def model_rows(trainers, times, memory, peak_tflops: float) -> list[list[object]]:
    rows = []
    for name, t in trainers.items():
        s = spread(times[name])
        img_s = spread([t.batch / x for x in times[name]])
        mfu = t.flops / s.median / (peak_tflops * 1e12)
        mem = "—" if memory[name] is None else f"{memory[name]:.1f}"
        rows.append([name, f"{t.params / 1e6:.1f}", f"{t.flops / t.batch / 1e9:.1f}", s.fmt(1, 1e3), img_s.fmt(1),
                     f"{t.flops / s.median / 1e12:.2f}", f"{100 * mfu:.1f}", mem])
    return rows


def ratio_rows(trainers, times) -> list[dict]:
    out = []
    for name in trainers:
        if name != BASELINE:
            r = spread(ratios(times[BASELINE], times[name]))  # img/s ratio = inverse time ratio
            out.append({"variant": name, "img_s_ratio": r, "flop_ratio": trainers[BASELINE].flops /
                        trainers[name].flops, "met": r.median >= GOAL})
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__)
    add_device_args(parser)
    parser.set_defaults(device="cuda" if torch.cuda.is_available() else "cpu", dtype=None)  # dtype: bf16 (quick: fp32)
    parser.add_argument("--batch", type=int, default=0, help="batch size (0 = 64; --quick: 8)")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="accelerator peak for MFU (H100 bf16: 989)")
    parser.add_argument("--variants", default="mmoe", help="comma list of variants compared to vanilla CLIP")
    parser.add_argument("--size", default="", choices=("", *SIZES), help="model size (default vitb16; --quick: tiny)")
    args = parser.parse_args(argv)
    setup(args)
    args.dtype = args.dtype or ("fp32" if args.quick else "bf16")
    size = args.size or ("tiny" if args.quick else "vitb16")
    batch = args.batch or (8 if args.quick else 64)
    reps, warmup = args.reps or (2 if args.quick else 10), args.warmup or (1 if args.quick else 3)
    names = [BASELINE, *[v for v in args.variants.split(",") if v != BASELINE]]
    trainers = {v: build_trainer(v, size, batch, args.device, args.dtype) for v in names}
    times = measure(trainers, reps, warmup, args.device)
    memory = {name: peak_memory_gib(t.step, args.device) for name, t in trainers.items()}
    rows = ratio_rows(trainers, times)
    t1 = md_table(["variant", "params (M)", "GFLOP / img (fwd+bwd)", "ms / step median [IQR]", "img/s median [IQR]",
                   "achieved TFLOP/s", f"MFU % (peak {args.peak_tflops:g} TFLOP/s)", "peak mem GiB"],
                  model_rows(trainers, times, memory, args.peak_tflops))
    t2 = md_table(["ratio", "img/s ratio median [IQR] (min–max)", "FLOP ratio (vanilla / MoE)", "goal", "met"],
                  [[f"{r['variant']} / {BASELINE}", f"{r['img_s_ratio'].fmt(3)} ({r['img_s_ratio'].lo:.3f}–"
                    f"{r['img_s_ratio'].hi:.3f})", f"{r['flop_ratio']:.3f}", f"≥ {GOAL:.2f}",
                    "yes" if r["met"] else "no"] for r in rows])
    head = (f"### {size} ({SIZES[size][0]}), batch {batch}, {args.dtype}, {reps} reps after {warmup} warm-up; "
            "step = forward + backward + optimiser step")
    if torch.device(args.device).type != "cuda":
        head += "\n\nNo GPU: a CPU stand-in. The img/s ratio is a CPU figure; MFU against a GPU peak means nothing."
    emit("Training throughput: MoE-CLIP / vanilla CLIP, and MFU", machine(args.device, args.dtype), [head, t1, t2],
         {"size": size, "batch": batch, "peak_tflops": args.peak_tflops, "ratios": rows,
          "models": {n: {"flops": t.flops, "params": t.params, "step_s": spread(times[n]), "peak_mem_gib": memory[n]}
                     for n, t in trainers.items()}}, args.json)
    return {"ratios": rows}


if __name__ == "__main__":
    main()
