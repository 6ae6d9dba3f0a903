"""Command start-up: how long a researcher waits for ``--help``, a refusal that needs no data, model or cluster, and
a ``--plan`` (reads the manifest, no cluster, no MLflow server), against the floor of starting Python at all
(``python -c pass``).

Each repetition runs every command once, in turn, as a fresh process (after untimed warm-up rounds, so the page
cache holds the libraries), and records its wall time and peak resident memory (``getrusage`` of a small
launcher's child). Ratios are taken per
repetition against ``python -c pass`` of the same round, so background load hits both sides.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import base_parser, emit, machine, md_table, spread  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "sweeps/mmoe_components.py --help": [str(ROOT / "sweeps" / "mmoe_components.py"), "--help"],
    "sweeps/mask_rates.py --seeds 0,0 (refused)": [str(ROOT / "sweeps" / "mask_rates.py"), "--seeds", "0,0"],
    "sweeps/mask_rates.py --plan --smoke-test": [str(ROOT / "sweeps" / "mask_rates.py"), "--plan", "--smoke-test"],
    # the paper scale's plan places the MoE layers in ViT-B/16's blocks for the cost estimate
    "sweeps/mmoe_components.py --plan --scale paper": [str(ROOT / "sweeps" / "mmoe_components.py"), "--plan",
                                                       "--scale", "paper"],
    "python -m pad_core --help": ["-m", "pad_core", "--help"],
}


# A small launcher runs each command and reports its wall time and the child's peak RSS: a child forked from this
# process (which imported torch) would count this process's memory as its own until it execs.
LAUNCHER = """
import os, resource, subprocess, sys, time
t = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, code)
"""


def run_once(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one fresh process. No MLflow server: a refusal must not need one,
    and ``--plan`` reads it only when given one (without, it plans every cell as to train)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if "--plan" not in args:  # the sweep refuses to start without a tracking URI: give it one nobody serves
        env["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"
    out = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, *args], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=env)
    wall, peak, code = out.stdout.split()
    return float(wall), float(peak), int(code)


def main() -> None:
    args = base_parser(__doc__).parse_args()
    reps, warmup = args.reps or (2 if args.quick else 7), args.warmup or 1
    for _ in range(warmup):
        for argv in COMMANDS.values():
            run_once(argv)
    walls = {name: [] for name in COMMANDS}
    rss, codes = {name: [] for name in COMMANDS}, {}
    for _ in range(reps):
        for name, argv in COMMANDS.items():
            wall, peak, code = run_once(argv)
            walls[name].append(wall)
            rss[name].append(peak)
            codes[name] = code
    floor = walls["python -c pass"]
    rows = [(name, codes[name], spread(walls[name]).fmt(3), spread([w / f for w, f in zip(walls[name], floor)]).fmt(1),
             f"{spread(rss[name]).median:.0f}") for name in COMMANDS]
    table = md_table(["command", "exit", "wall s, median [IQR]", "÷ python -c pass", "peak RSS MiB"], rows)
    emit("Command start-up", machine(), [table], {"walls": walls, "rss_mib": rss, "exit": codes}, args.json)


if __name__ == "__main__":
    main()
