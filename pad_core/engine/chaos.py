"""Fault injection for the reliability tests (docs/RELIABILITY.md), off unless asked for.

``PADSWEEP_CHAOS=<fault>@<step>`` makes every run's training loop, on reaching ``step``, either raise
(``raise``: a worker error) or SIGKILL its own process (``kill``: a dead trial driver or worker). Each run
faults once: a marker file per run in ``PADSWEEP_CHAOS_DIR`` lets the retried attempt go through, which is
what the tests check (the retry resumes from the last checkpoint and the run's history stays one series).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from pad_core.config import config_hash
from pad_core.config.schema import RunCfg


class InjectedFault(RuntimeError):
    """Raised by ``PADSWEEP_CHAOS=raise@<step>``."""


def _parse(spec: str) -> tuple[str, int]:
    fault, _, step = spec.partition("@")
    if fault not in ("raise", "kill") or not step.isdigit():
        raise ValueError(f"PADSWEEP_CHAOS={spec!r}: use raise@<step> or kill@<step>")
    return fault, int(step)


def injector(run: str) -> Callable[[int], None] | None:
    """The fault hook of one run, or None when ``PADSWEEP_CHAOS`` is unset (nothing on the training step)."""
    spec = os.environ.get("PADSWEEP_CHAOS", "")
    if not spec:
        return None
    fault, at = _parse(spec)
    marker = Path(os.environ.get("PADSWEEP_CHAOS_DIR", "/tmp/padsweep-chaos")) / f"{run}.{fault}"

    def maybe_fault(step: int) -> None:
        if step != at or marker.exists():
            return
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedFault(f"injected by PADSWEEP_CHAOS={spec} at step {step}")

    return maybe_fault


def run_injector(cfg: RunCfg, rank: int) -> Callable[[int], None] | None:
    """The fault hook of one run and rank, called after each training step: one fault per run and rank, the
    config hash, protocol and seed telling runs apart (a retried attempt of the same run finds its marker)."""
    return injector(f"{config_hash(cfg)}-{cfg.data.protocol}-s{cfg.train.seed}-r{rank}")
