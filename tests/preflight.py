"""Room for the suite, checked before it starts (``scripts/test.sh``): ``python -m tests.preflight --need-gb N``.

The paper-path rehearsal holds ~17 GB in the temp folder at its peak (docs/BENCHMARKS.md §14). Before measuring the
free space this gives back what earlier runs left and nothing will use again, as pytest and padsweep would anyway:
- finished test sessions' folders (``pytest-of-<user>/pytest-<n>`` whose lock names a dead process, or that have
  no lock and are older than ``STARTING_S``: pytest writes the lock just after the folder; pytest itself removes
  them when the next session asks for a tmp folder, after this check would have refused);
- padsweep scratch whose owner is gone (``pad_core.scratch.reap``);
- this user's scratch in the names older padsweep versions used (``padckpt-*``, ``padrun-*``, ``padbest-*``,
  ``padsweep-artifact-*`` without an owner, ``pad-audit-*``) in which nothing changed for ``OLD_HOURS`` hours: those
  versions never removed a killed process's, and a staged ViT-B/16 checkpoint among them is ~6 GB.
Then it refuses, naming the folder, the space and the fix, when the room is still not there.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pad_core import scratch

OLD_NAMES = re.compile(r"^(padckpt-|padrun-|padbest-|padsweep-artifact-|pad-audit-)")
OLD_HOURS = 6.0
STARTING_S = 600.0
GIB = 1 << 30


def _session_over(path: Path, now: float) -> bool:
    lock = path / ".lock"
    if not lock.exists():  # a session writes its lock just after making the folder: a young one may be starting
        return now - path.stat().st_mtime > STARTING_S
    try:
        return not scratch.owner_alive(int(lock.read_text()), 0)
    except (OSError, ValueError):  # empty (being written) or unreadable: not ours to judge
        return False


def finished_sessions(root: Path, now: float) -> list[Path]:
    """pytest's numbered session folders under ``root`` whose session is over."""
    return [p for p in sorted(root.glob("pytest-[0-9]*")) if p.is_dir() and not p.is_symlink()
            and _session_over(p, now)]


def _last_change(path: Path) -> float:
    return max([path.stat().st_mtime, *(p.stat().st_mtime for p in path.rglob("*") if not p.is_symlink())])


def old_scratch(folder: Path, now: float) -> list[Path]:
    """This user's folders in the old names (an owner-named one is ``scratch.reap``'s to judge) in which nothing
    changed for ``OLD_HOURS``."""
    return [p for p in folder.iterdir() if OLD_NAMES.match(p.name) and not scratch.NAME.match(p.name)
            and p.is_dir() and not p.is_symlink() and p.stat().st_uid == os.getuid()
            and now - _last_change(p) > OLD_HOURS * 3600]


def reclaim(folder: Path, user: str, now: float) -> list[str]:
    """Remove what earlier runs left (see the module's doc); the paths removed."""
    removed = scratch.reap(str(folder))
    for path in [*finished_sessions(folder / f"pytest-of-{user}", now), *old_scratch(folder, now)]:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(str(path))
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--need-gb", type=float, required=True, help="free space the suite needs at its peak")
    args = parser.parse_args(argv)
    folder = Path(tempfile.gettempdir())
    before = shutil.disk_usage(folder).free
    removed = reclaim(folder, getpass.getuser(), time.time())
    free = shutil.disk_usage(folder).free
    print(f"[test] {folder}: {free / GIB:.0f} GB free, the suite needs {args.need_gb:g} GB at its peak"
          + (f" ({len(removed)} folders of earlier runs removed, {(free - before) / GIB:.1f} GB)" if removed else ""))
    if free < args.need_gb * GIB:
        print(f"scripts/test.sh: {folder} has {free / GIB:.1f} GB free; the suite needs {args.need_gb:g} GB there at "
              "its peak (the ViT-B/16 rehearsal's checkpoints). Fix: free space in that folder, or point TMPDIR at a "
              "larger disk; with tests/integration/test_rehearsal.py deselected, PADSWEEP_TEST_FREE_GB=5 is enough",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
