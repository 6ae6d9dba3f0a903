"""Threshold policies. The threshold comes from dev unless the policy (or the protocol) says test.

- ``dev_eer``: the EER threshold of the dev split, applied to test (UniAttackData, MoAE-CR).
- ``test_eer``: the EER threshold of the test split itself (FLIP code, IrisGeneral: no dev split in
  the paper). Optimistic; used only where a protocol declares it or a user asks for it.
- ``fixed``: a given tau (FLIP's ``calculate()`` uses 0.5).
A threshold found on a split (``dev_eer``, ``test_eer``) is placed by ``eval.threshold_placement``: on one of the
split's scores ("score") or midway to the next lower distinct score ("midpoint", bob.measure). Both split the source
split alike; applied to another split they differ for samples scored in that gap (see pad_core.metrics.pad).
The resolved policy is always logged next to the metrics.

Thresholds and metrics count the set's units (:meth:`ScoreSet.units`): its rows, or at video level its videos.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pad_core.errors import DataError
from pad_core.metrics.pad import eer

POLICIES = ("dev_eer", "test_eer", "fixed")


@dataclass(frozen=True, eq=False)
class ScoreSet:
    """Scores of one split: ``split`` names where they came from, so the policy can check it.

    ``videos`` (one id per row, "" for a still image) asks for scoring per video: :meth:`units` is then one line
    per video, its score the mean of its frames' scores (FLIP lineage), and ``frames`` says how many each had."""

    split: str
    scores: np.ndarray
    labels: np.ndarray
    species: np.ndarray
    videos: np.ndarray | None = None  # per-row video ids: score per video (None = per row)
    frames: np.ndarray | None = None  # frames behind each unit of an aggregated set (None = one each)

    def has_both_classes(self) -> bool:
        return len(self.labels) > 0 and 0 < int(np.sum(self.labels == 1)) < len(self.labels)

    @functools.cached_property
    def units(self) -> ScoreSet:
        """The set the metrics count: itself at frame level; at video level one line per video (a still image,
        video id "", is a video of one frame). Frames of one video that disagree on the label are refused."""
        if self.videos is None:
            return self
        ids = np.asarray(self.videos, dtype=object).astype(str)
        rows = pd.DataFrame({"unit": np.where(ids == "", [f"\0{i}" for i in range(len(ids))], ids),
                             "score": np.asarray(self.scores, dtype=np.float64), "label": np.asarray(self.labels),
                             "species": np.asarray(self.species).astype(str)})
        agg = per_unit(rows, self.split, ("species",))
        return ScoreSet(self.split, agg["score"].to_numpy(), agg["label"].to_numpy(), agg["species"].to_numpy(),
                        frames=agg["frames"].to_numpy())


def per_unit(rows: pd.DataFrame, split: str, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Frame rows (columns ``unit``, ``score``, ``label`` and ``keep``) -> one line per unit, indexed by its id in
    first-seen order: the mean of its frames' scores, its label, the first value of each ``keep`` column and
    ``frames``. The one rule for video-level scores (the run's metrics and the table's bootstrap both use it);
    frames of one video that disagree on the label are refused."""
    videos = rows.groupby("unit", sort=False)
    mixed = videos["label"].nunique() > 1
    if mixed.any():
        raise DataError("video", mixed.index[mixed][0], f"{int(mixed.sum())} videos of the {split} split "
                        f"have frames labelled both bona fide and attack: {mixed.index[mixed][:5].tolist()}",
                        "give every frame of a video its video's label (or separate video ids)")
    return videos.agg(score=("score", "mean"), label=("label", "first"), **{c: (c, "first") for c in keep},
                      frames=("score", "size"))


def select_threshold(policy: str, *, dev: ScoreSet | None, test: ScoreSet | None, fixed: float = 0.5,
                     placement: str = "score") -> float:
    """The decision threshold under ``policy`` (over the split's units), placed by ``placement`` ("score" or
    "midpoint"; not for ``fixed``). ``dev_eer`` never reads ``test``."""
    if policy == "fixed":
        return float(fixed)
    source = dev if policy == "dev_eer" else test if policy == "test_eer" else None
    if source is None:
        raise DataError("eval.threshold_policy", policy, "unknown policy or missing split",
                        f"use one of {list(POLICIES)} with the split it needs")
    expected = policy.split("_")[0]
    if source.split != expected:
        raise AssertionError(f"policy {policy} was handed the {source.split!r} split")
    source = source.units
    if not source.has_both_classes():
        raise DataError("eval.threshold_policy", policy, f"the {expected} split lacks one class",
                        "use a split with bona fide and attack samples, or policy=fixed")
    return eer(source.scores, source.labels, placement)[1]
