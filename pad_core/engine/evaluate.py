"""Scoring a split: each rank scores its own shard (no padding duplicates), then ranks exchange scores; per row or,
at video level, per video (pad_core.metrics.thresholds.ScoreSet.units); test metrics at both levels when the test
rows come from videos (:func:`both_levels`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pad_core.config.schema import EvalCfg
from pad_core.data.dataset import ManifestImages, to_device
from pad_core.data.loaders import eval_loader
from pad_core.data.manifest import VIDEO
from pad_core.engine.distributed import gather_objects
from pad_core.engine.precision import evaluation
from pad_core.metrics.report import LEVELS, level_key, split_metrics
from pad_core.metrics.thresholds import ScoreSet, select_threshold


def _gather(values: list) -> list:
    """Every rank's rows, concatenated in rank order."""
    return [v for part in gather_objects(values) for v in part]


def score_rows(model, dataset: ManifestImages, *, batch_size: int, device, rank: int = 0, world: int = 1,
               num_workers: int = 0, precision: str = "fp32") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """P(live) for every row of ``dataset`` in row order, and per visual MoE layer the per-row expert shares
    (``N x E``); the same on every rank. The forward runs in inference mode under the training autocast
    (``precision`` = ``train.precision``)."""
    was_training = model.training
    model.eval()
    shard = list(range(rank, len(dataset), world))
    # the same loader (and its persistent workers) at every evaluation; it leaves the global RNG untouched
    loader = eval_loader(dataset, shard, batch_size=batch_size, num_workers=num_workers, device=device)
    rows = []
    for inputs, _, idx in loader:
        with evaluation(device, precision):
            out = model(to_device(inputs, device))
        # float32 before numpy: bf16 tensors have no numpy dtype
        routing = {k: v.float().cpu().numpy() for k, v in out.routing.items()}
        scores = out.live_score.float().cpu().tolist()
        rows += [(i, s, {k: v[j] for k, v in routing.items()}) for j, (i, s) in enumerate(zip(idx.tolist(), scores))]
    model.train(was_training)
    return _assemble(_gather(rows), len(dataset))


def _assemble(rows: list, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    scores, routing = np.empty(n), {}
    for i, s, shares in rows:
        scores[i] = s
        for layer, v in shares.items():
            routing.setdefault(layer, np.zeros((n, len(v))))[i] = v
    return scores, routing


def score_set(split: str, frame: pd.DataFrame, scores: np.ndarray, level: str = "frame") -> ScoreSet:
    """The split's row scores; at ``level`` "video" they carry the rows' video ids, so thresholds and metrics
    count videos (mean frame score per video: ``ScoreSet.units``) while the row scores stay for the score file."""
    videos = None if level != "video" else (frame[VIDEO].fillna("").astype(str).to_numpy() if VIDEO in frame.columns
                                            else np.full(len(frame), ""))  # no ids: every row a video of one frame
    return ScoreSet(split, scores, frame["label"].to_numpy(), frame["attack_type"].to_numpy(), videos=videos)


def has_videos(frame: pd.DataFrame) -> bool:
    """Whether any of the rows carries a video id (a non-empty ``video`` column)."""
    return VIDEO in frame.columns and bool((frame[VIDEO].fillna("").astype(str) != "").any())


def both_levels(protocol: str, dev: tuple[pd.DataFrame, np.ndarray], test: tuple[pd.DataFrame, np.ndarray],
                policy: str, cfg: EvalCfg) -> dict[str, float]:
    """Test metrics per frame and per video from the same row scores, keyed ``test/<p>/<level>_<metric>``, when the
    test rows come from videos ({} otherwise). ``dev``, ``test``: (split rows, row scores). Each level takes its own
    threshold under the run's ``policy`` from its own units (dev_eer: dev frames, or dev videos; test_eer: test's;
    fixed: the same tau), so the video figures are what a run scored per video would log, and likewise per frame."""
    if not has_videos(test[0]):
        return {}
    out: dict[str, float] = {}
    for level in LEVELS:
        dev_set, test_set = score_set("dev", *dev, level), score_set("test", *test, level)
        tau = select_threshold(policy, dev=dev_set, test=test_set, fixed=cfg.fixed_threshold,
                               placement=cfg.threshold_placement)
        out.update({level_key(k, level): v for k, v in split_metrics(test_set, protocol, tau, cfg).items()})
    return out
