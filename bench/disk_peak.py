"""Disk a test selection takes from the temp folder's file system: the peak above where it started and what is
still taken when it ends (what it left behind). The default selection is the paper-path rehearsal, whose ViT-B/16
checkpoints (~6 GB each) set the suite's peak; ``scripts/test.sh`` refuses to start without that much room.

The selection runs as a child ``pytest``; the file system's used bytes are sampled every ``--every`` seconds. Other
processes writing to the same file system show up too: run it on a quiet machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import base_parser, emit, machine, md_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("tests/integration/test_rehearsal.py",)
QUICK = ("tests/unit/test_scratch.py",)
GIB = 1 << 30


def used_bytes(folder: str) -> int:
    return shutil.disk_usage(folder).used


def measure(selection: tuple[str, ...], every_s: float) -> dict[str, float]:
    """Run ``selection`` under pytest; the peak and final used bytes above the start, and the wall time."""
    folder = tempfile.gettempdir()
    start = peak = used_bytes(folder)
    t0 = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while child.poll() is None:
        peak = max(peak, used_bytes(folder))
        time.sleep(every_s)
    end = used_bytes(folder)
    return {"exit": child.returncode, "peak_gb": (max(peak, end) - start) / GIB, "left_gb": (end - start) / GIB,
            "wall_s": time.monotonic() - t0}


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__)
    parser.add_argument("selection", nargs="*", help=f"pytest arguments (default: {' '.join(DEFAULT)})")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    args = parser.parse_args(argv)
    selection = tuple(args.selection) or (QUICK if args.quick else DEFAULT)
    result = measure(selection, args.every)
    table = md_table(["selection", "exit", "peak above start, GB", "left at the end, GB", "wall s"],
                     [[" ".join(selection), result["exit"], f"{result['peak_gb']:.2f}", f"{result['left_gb']:.2f}",
                       f"{result['wall_s']:.0f}"]])
    return emit(f"Disk taken from {tempfile.gettempdir()}", machine(), [table], {"selection": selection, **result},
                args.json)


if __name__ == "__main__":
    main()
