"""MoE layer efficiency: each layer's forward+backward time / a dense MLP of equal FLOPs, side by side.

Layers are built by the project's own registries (``MOE_LAYERS`` for SoftMoE / MMoE / MoAE / SUE,
``bigmoe_layers(cfg).experts`` and ``IGMA`` for BIG-MoE's PEER) from the variant configs the sweeps use (``softmoe``,
``mmoe``, ``moae``, ``sue``, ``bigmoe``): the paper defaults at ViT-B/16 size, the ``demo`` scale at the tiny test
model's size. FLOPs of one forward+backward are counted with ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and
convs; soft-maxes, norms and gathers count zero); the dense MLP ``Linear(d, h) -> GELU -> Linear(h, d)`` on the same
input gets the hidden width h that matches them. "Loop-free" compares the number of aten calls of one forward+backward
at the base size, with twice the experts and with twice the batch: a Python loop over experts or tokens changes it.

    .venv/bin/python bench/moe_layers.py [--quick] [--sizes vitb16,tiny] [--device cuda --dtype bf16] [--json OUT]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from open_clip.transformer import ResidualAttentionBlock
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from pad_core.config import scale_overrides
from pad_core.models.backbones import backbone_info
from pad_core.models.bigmoe.igma import IGMA
from pad_core.models.bigmoe.layers import bigmoe_layers
from pad_core.models.factory import MOE_LAYERS, resolve_run_cfg
from pad_core.models.moe.experts import QuickGELU
from pad_core.models.moe.placement import WRAPPERS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root holds bench/

from bench.common import (  # noqa: E402
    add_device_args,
    autocast,
    base_parser,
    emit,
    machine,
    md_table,
    quiet_stderr,
    ratios,
    setup,
    spread,
    time_interleaved,
)

# size name -> (backbone, run scale, batch on CPU); tokens and width come from the backbone's config
SIZES = {"vitb16": ("ViT-B-16-quickgelu", "paper", 8), "tiny": ("pad-tiny-vit", "demo", 32)}
GOALS = {"softmoe": 1.10, "mmoe": 1.10, "moae": 1.25, "sue": 1.50}  # max layer time / equal-FLOP dense time


@dataclass
class Case:
    """A layer, its inputs (the first is the token tensor a dense MLP would see) and the call that returns
    ``(output, aux terms)``."""

    module: nn.Module
    inputs: list[torch.Tensor]
    call: Callable[..., tuple[torch.Tensor, list[torch.Tensor]]]
    note: str = ""
    extra: dict = field(default_factory=dict)


def run_cfg(variant: str, backbone: str, scale: str, overrides: dict | None = None):
    return resolve_run_cfg(variant, {**scale_overrides(scale), "backbone.name": backbone, **(overrides or {})})


def clip_mlp(width: int) -> nn.Module:
    """open_clip's block MLP (c_fc -> QuickGELU -> c_proj), the shared expert of SUE."""
    return ResidualAttentionBlock(width, max(1, width // 64), act_layer=QuickGELU).mlp


def moe_case(variant: str, backbone: str, scale: str, batch: int, overrides: dict | None = None) -> Case:
    cfg = run_cfg(variant, backbone, scale, overrides)
    info = backbone_info(backbone)
    width, tokens = info.visual_width, info.visual_tokens
    mlp = clip_mlp(width)
    layer = MOE_LAYERS.get(cfg.moe.kind)(cfg.moe, width, mlp)
    if cfg.moe.kind == "sue":  # shared expert (the CLIP MLP) + routed experts, as placed in the block
        module = WRAPPERS.get(cfg.moe.mode)(mlp, layer)
        call = lambda x: (module(x), list(module.pop_last().aux.values()))
    else:
        module = layer
        call = lambda x: (lambda out: (out.x, list(out.aux.values())))(module(x))
    sub = {"soft": cfg.moe.soft, "moae": cfg.moe.moae, "sue": cfg.moe.sue}[cfg.moe.kind]
    x = torch.randn(batch, tokens, width)
    note = describe(cfg.moe.kind, sub)
    if cfg.moe.kind == "sue":
        note += f", buffer {dispatch_fill(layer, x):.0%} full"
    return Case(module, [x], call, note)


def dispatch_fill(routed: nn.Module, x: torch.Tensor) -> float:
    """Share of SUE's padded expert buffer (r x largest load) holding real assignments; the rest is zero rows
    whose FLOPs the counter sees (and the equal-FLOP dense MLP is given)."""
    with torch.no_grad():
        idx = routed.gate(x.reshape(-1, x.shape[-1])).float().softmax(-1).topk(routed.top_k, dim=-1).indices
        counts = torch.bincount(idx.reshape(-1), minlength=routed.experts.w1.shape[0])
    return idx.numel() / (counts.numel() * int(counts.max()))


def describe(kind: str, sub) -> str:
    if kind == "soft":
        mask = f", mask {tuple(sub.mask_rates)}" if sub.mask_rates else ""
        return f"e={sub.num_experts}, s={sub.slots_per_expert}, norm={sub.norm}{mask}"
    if kind == "moae":
        return f"e={sub.num_experts}, h={sub.heads}, s={sub.slots_per_expert}"
    return f"shared MLP + {sub.num_routed} routed, top-{sub.top_k}"


def peer_case(backbone: str, scale: str, batch: int, overrides: dict | None = None) -> Case:
    cfg = run_cfg("bigmoe", backbone, scale, overrides).bigmoe
    info = backbone_info(backbone)
    patches, m = (info.image_size // info.patch_size) ** 2, 3
    layer = bigmoe_layers(cfg).experts.build(cfg, m * cfg.down_dim, gate_dim=2 * cfg.down_dim)  # G* is 2r wide
    x, g = torch.randn(batch, patches, m * cfg.down_dim), torch.randn(batch, patches, 2 * cfg.down_dim)
    note = f"{cfg.peer_keys ** 2} rank-1 experts, {cfg.peer_heads} heads x top-{cfg.peer_topk}, d={m * cfg.down_dim}"
    return Case(layer, [x, g], lambda x, g: (layer(x, g), []), note)


def igma_case(backbone: str, scale: str, batch: int, overrides: dict | None = None) -> Case:
    cfg = run_cfg("bigmoe", backbone, scale, overrides).bigmoe
    info = backbone_info(backbone)
    grid = info.image_size // info.patch_size
    layer = IGMA(info.visual_width, grid=grid, cfg=cfg, layers=bigmoe_layers(cfg), modalities=3, bypass=True)
    x = torch.randn(batch, 3 * grid * grid, info.visual_width)
    prompt = torch.randn(batch, grid * grid, cfg.prompt_dim)
    call = lambda x, p: (lambda out: (out[0] + 0 * out[1].sum(), []))(layer(x, p))  # keep P_{l+1} on the path
    return Case(layer, [x, prompt], call, f"IGMA(PEER) + CPB, {3 * grid * grid} tokens")


# name -> (label, builder(backbone, scale, batch, overrides), overrides that double the experts)
LAYERS = {
    "softmoe": ("SoftMoE", lambda *a: moe_case("softmoe", *a), {"moe.soft.num_experts": 8}),
    "mmoe": ("MMoE (masked SoftMoE)", lambda *a: moe_case("mmoe", *a),
             {"moe.soft.num_experts": 8, "moe.soft.mask_rates": (0.0,) + (0.1,) * 7}),
    "moae": ("MoAE (multi-head SoftMoE)", lambda *a: moe_case("moae", *a), {"moe.moae.num_experts": 8}),
    "sue": ("SUE top-2 + shared", lambda *a: moe_case("sue", *a), {"moe.sue.num_routed": 8}),
    "peer": ("PEER (BIG-MoE experts)", peer_case, {"bigmoe.peer_keys": 57}),
    "igma": ("IGMA adapter (PEER + CPB)", igma_case, {"bigmoe.peer_keys": 57}),
}


class OpCounter(TorchDispatchMode):
    """Counts aten calls (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def step_fn(case: Case, device: str, dtype: str) -> Callable[[], None]:
    """One forward+backward; the loss adds the layer's aux terms (they train with it)."""

    def step() -> None:
        case.module.zero_grad(set_to_none=True)
        for t in case.inputs:
            t.grad = None
        with autocast(device, dtype):
            y, aux = case.call(*case.inputs)
            loss = y.float().mean() + sum((a.float() for a in aux), torch.zeros((), device=y.device))
        loss.backward()

    return step


def prepared(case: Case, device: str) -> Case:
    case.module.to(device).train()
    case.inputs = [t.to(device).requires_grad_(True) for t in case.inputs]
    return case


def count_flops(fn: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


MATMUL_OPS = ("aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm", "aten::addbmm")


def matmul_share(fn: Callable[[], None], device: str, steps: int = 2) -> float:
    """Share of the profiled self time (CPU, or CUDA kernels on a GPU) spent in matmuls and convolutions."""
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.device(device).type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with quiet_stderr(), profile(activities=activities) as prof:
        for _ in range(steps):
            fn()
    events = prof.key_averages()
    own = (lambda e: e.self_device_time_total) if cuda else (lambda e: e.self_cpu_time_total)
    total = sum(own(e) for e in events)
    mm = sum(own(e) for e in events if e.key in MATMUL_OPS or "conv" in e.key)
    return mm / total if total else float("nan")


def count_ops(case: Case, device: str, dtype: str) -> int:
    with OpCounter() as counter:
        step_fn(case, device, dtype)()
    return counter.count


def dense_case(x: torch.Tensor, hidden: int) -> Case:
    d = x.shape[-1]
    mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
    return Case(mlp, [x.detach().clone()], lambda x: (mlp(x), []), f"d={d}, h={hidden}")


def equal_flop_dense(case: Case, target: int, device: str, dtype: str) -> tuple[Case, int]:
    """The dense MLP on the case's token input whose fwd+bwd FLOPs match ``target`` (FLOPs are linear in h)."""
    x = case.inputs[0]
    probe_h = 4 * x.shape[-1]
    probe = count_flops(step_fn(prepared(dense_case(x, probe_h), device), device, dtype))
    hidden = max(1, round(probe_h * target / probe))
    dense = prepared(dense_case(x, hidden), device)
    return dense, count_flops(step_fn(dense, device, dtype))


def loop_free(name: str, backbone: str, scale: str, batch: int, device: str, dtype: str) -> str:
    label, build, double_experts = LAYERS[name]
    counts = [count_ops(prepared(build(backbone, scale, b, o), device), device, dtype)
              for b, o in ((batch, None), (batch, double_experts), (2 * batch, None))]
    verdict = "yes" if len(set(counts)) == 1 else "NO"
    return f"{verdict} ({'/'.join(map(str, counts))})"


def bench_layer(name: str, size: str, args) -> dict:
    backbone, scale, batch = SIZES[size]
    batch = args.batch or (4 if args.quick else batch)
    label, build, _ = LAYERS[name]
    torch.manual_seed(0)
    case = prepared(build(backbone, scale, batch, None), args.device)
    layer_step = step_fn(case, args.device, args.dtype)
    flops = count_flops(layer_step)
    dense, dense_flops = equal_flop_dense(case, flops, args.device, args.dtype)
    dense_step = step_fn(dense, args.device, args.dtype)
    times = time_interleaved({"layer": layer_step, "dense": dense_step},
                             reps=args.reps, warmup=args.warmup, device=args.device)
    x = case.inputs[0]
    share = f"{matmul_share(layer_step, args.device):.0%} / {matmul_share(dense_step, args.device):.0%}"
    return {"layer": name, "matmul_share": share, "label": label, "size": size, "config": case.note, "batch": batch,
            "tokens_width": f"{x.shape[1]}x{x.shape[2]}", "flops": flops, "dense_flops": dense_flops,
            "dense": dense.note, "t_layer": spread(times["layer"]), "t_dense": spread(times["dense"]),
            "ratio": spread(ratios(times["layer"], times["dense"])), "goal": GOALS.get(name),
            "loop_free": loop_free(name, backbone, scale, batch, args.device, args.dtype)}


def table(results: list[dict]) -> str:
    headers = ["layer", "config", "b x tokens x width", "GFLOP layer", "GFLOP dense", "dense MLP", "ms layer",
               "ms dense", "ratio median [IQR] (min–max)", "goal", "met", "matmul share layer / dense",
               "loop-free (aten ops)"]
    rows = []
    for r in results:
        ratio, goal = r["ratio"], r["goal"]
        met = "report only" if goal is None else ("yes" if ratio.median <= goal else "no")
        rows.append([r["label"], r["config"], f"{r['batch']}x{r['tokens_width']}", f"{r['flops'] / 1e9:.3f}",
                     f"{r['dense_flops'] / 1e9:.3f}", r["dense"], r["t_layer"].fmt(1, 1e3), r["t_dense"].fmt(1, 1e3),
                     f"{ratio.fmt(2)} ({ratio.lo:.2f}–{ratio.hi:.2f})", "—" if goal is None else f"≤ {goal:.2f}x",
                     met, r["matmul_share"], r["loop_free"]])
    return md_table(headers, rows)


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__)
    add_device_args(parser)
    parser.add_argument("--sizes", default="", help="comma list of vitb16,tiny (default both; --quick: tiny)")
    parser.add_argument("--layers", default=",".join(LAYERS), help=f"comma list of {','.join(LAYERS)}")
    parser.add_argument("--batch", type=int, default=0, help="batch size (0 = the size's default)")
    args = parser.parse_args(argv)
    setup(args)
    args.reps = args.reps or (3 if args.quick else 10)
    args.warmup = args.warmup or (1 if args.quick else 2)
    sizes = (args.sizes or ("tiny" if args.quick else "vitb16,tiny")).split(",")
    results, sections = [], []
    for size in sizes:
        rows = [bench_layer(name, size, args) for name in args.layers.split(",")]
        results += rows
        sections.append(f"### {size} ({SIZES[size][0]}, {SIZES[size][1]} scale), forward+backward, "
                        f"{args.reps} reps after {args.warmup} warm-up\n\n{table(rows)}")
    emit("MoE layers vs dense MLP of equal FLOPs", machine(args.device, args.dtype), sections,
         {"results": results}, args.json)
    return {"results": results}


if __name__ == "__main__":
    main()
