"""Threshold policies. The threshold comes from dev unless the policy (or the protocol) says test.

- ``dev_eer``: the EER threshold of the dev split, applied to test (UniAttackData, MoAE-CR).
- ``test_eer``: the EER threshold of the test split itself (FLIP code, IrisGeneral: no dev split in
  the paper). Optimistic; used only where a protocol declares it or a user asks for it.
- ``fixed``: a given tau (FLIP's ``calculate()`` uses 0.5).
The resolved policy is always logged next to the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pad_core.errors import DataError
from pad_core.metrics.pad import eer

POLICIES = ("dev_eer", "test_eer", "fixed")


@dataclass(frozen=True)
class ScoreSet:
    """Scores of one split: ``split`` names where they came from, so the policy can check it."""

    split: str
    scores: np.ndarray
    labels: np.ndarray
    species: np.ndarray

    def has_both_classes(self) -> bool:
        return len(self.labels) > 0 and 0 < int(np.sum(self.labels == 1)) < len(self.labels)


def select_threshold(policy: str, *, dev: ScoreSet | None, test: ScoreSet | None, fixed: float = 0.5) -> float:
    """The decision threshold under ``policy``. ``dev_eer`` never reads ``test``."""
    if policy == "fixed":
        return float(fixed)
    source = dev if policy == "dev_eer" else test if policy == "test_eer" else None
    if source is None:
        raise DataError("eval.threshold_policy", policy, "unknown policy or missing split",
                        f"use one of {list(POLICIES)} with the split it needs")
    expected = policy.split("_")[0]
    if source.split != expected:
        raise AssertionError(f"policy {policy} was handed the {source.split!r} split")
    if not source.has_both_classes():
        raise DataError("eval.threshold_policy", policy, f"the {expected} split lacks one class",
                        "use a split with bona fide and attack samples, or policy=fixed")
    return eer(source.scores, source.labels)[1]
