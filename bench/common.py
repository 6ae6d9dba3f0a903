"""Shared pieces of the benchmarks: a warm-up + repetition timer, paired ratios, the machine, Markdown tables.

Ratios are measured side by side: each repetition times every candidate once, in turn, so load from other
processes hits all of them alike; a ratio's spread is taken over the per-repetition ratios. Nothing here asserts
a time: the scripts print figures next to their goals and leave the verdict to the reader.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class Spread:
    """Median and spread of a sample: quartiles (IQR) and the extremes."""

    median: float
    q1: float
    q3: float
    lo: float
    hi: float
    n: int

    def fmt(self, digits: int = 3, scale: float = 1.0) -> str:
        m, a, b = (round(v * scale, digits) for v in (self.median, self.q1, self.q3))
        return f"{m:.{digits}f} [{a:.{digits}f}–{b:.{digits}f}]"


def spread(values: Sequence[float]) -> Spread:
    vals = sorted(float(v) for v in values)
    if len(vals) == 1:
        v = vals[0]
        return Spread(v, v, v, v, v, 1)
    q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    return Spread(statistics.median(vals), q1, q3, vals[0], vals[-1], len(vals))


def synchronize(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: str | torch.device = "cpu") -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def time_interleaved(fns: dict[str, Callable[[], object]], *, reps: int, warmup: int = 1,
                     device: str | torch.device = "cpu") -> dict[str, list[float]]:
    """Seconds per call of each candidate: ``warmup`` untimed rounds, then ``reps`` rounds timing each once."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            times[name].append(timed(fn, device))
    return times


def ratios(num: Sequence[float], den: Sequence[float]) -> list[float]:
    """Per-repetition ratios of two interleaved series."""
    return [a / b for a, b in zip(num, den)]


def autocast(device: str, dtype: str):
    """bf16 autocast on the given device type; fp32 runs without autocast."""
    if dtype == "fp32":
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


@contextmanager
def quiet_stderr():
    """Silence C-level stderr (the profiler's kineto start/stop lines) for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str = "cpu", dtype: str = "fp32") -> dict[str, str]:
    info = {"cpu": cpu_model(), "cores": str(os.cpu_count()), "torch threads": str(torch.get_num_threads()),
            "torch": torch.__version__, "python": platform.python_version(), "device": device, "dtype": dtype}
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    with suppress(OSError):
        info["load avg (1 min, at start)"] = f"{os.getloadavg()[0]:.2f}"
    return info


def machine_md(info: dict[str, str]) -> str:
    return "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items())


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; floats are printed with 3 significant digits."""

    def cell(v: object) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def base_parser(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (smoke test)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    parser.add_argument("--reps", type=int, default=0, help="timed repetitions (0 = the script's default)")
    parser.add_argument("--warmup", type=int, default=0, help="untimed warm-up rounds (0 = the script's default)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1; 0 = torch's default). On a shared 2-core machine "
                             "two threads collapse (50x) whenever another process holds a core, so ratios are "
                             "taken on one thread unless asked")
    return parser


def add_device_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"), help="bf16 = autocast")


def setup(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)


def emit(title: str, info: dict[str, str], sections: list[str], results: dict, json_path: str | None) -> str:
    """Print the report (title, machine, sections) and write ``results`` + machine as JSON when asked."""
    text = "\n\n".join([f"## {title}", machine_md(info), *sections]) + "\n"
    print(text, flush=True)
    if json_path:
        payload = {"title": title, "machine": info, **results}
        Path(json_path).write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return text


def _jsonable(obj: object) -> object:
    if isinstance(obj, Spread):
        return asdict(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
