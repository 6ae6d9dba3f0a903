"""Which config keys a given config never reads (a row that changes only these changes nothing).

The rules are the sub-configs' own ``reads(cfg)`` statements (pad_core/config/reads.py); the audit asks them.
"""

from __future__ import annotations

from pad_core.config import RunCfg
from pad_core.config.reads import unread_keys


def inactive_keys(cfg: RunCfg, keys: list[str]) -> list[str]:
    """The subset of ``keys`` that ``cfg`` never reads, in the order given."""
    return unread_keys(cfg, keys)
