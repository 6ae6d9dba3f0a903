"""eval.threshold_placement reaches the training loop: a dev_eer run with "midpoint" applies bob.measure's threshold,
halfway between the dev EER score and the next lower distinct dev score, checked from the run's own scores.csv."""

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from pad_core.config import from_flat, scale_overrides
from pad_core.engine import RunContext, train
from pad_core.models.variants import VARIANTS


def reference_eer_score(scores: np.ndarray, labels: np.ndarray) -> float:
    """The EER threshold on a score by a plain loop in exact fractions: (|APCER - BPCER|, APCER + BPCER, tau) min."""
    attack, live = scores[labels == 0], scores[labels == 1]
    keys = []
    for tau in [*sorted(set(scores.tolist())), math.inf]:
        a = Fraction(int(np.count_nonzero(attack >= tau)), len(attack))
        b = Fraction(int(np.count_nonzero(live < tau)), len(live))
        keys.append((abs(a - b), a + b, tau))
    return min(keys)[2]


def test_midpoint_placement_is_applied_to_the_test_split(tmp_path):
    artifacts = []
    ctx = RunContext(report=lambda **_: None, save_artifact=artifacts.append, workdir=str(tmp_path))
    cfg = from_flat({**scale_overrides("smoke"), **VARIANTS.get("mmoe"), "train.steps": 3, "train.eval_every": 3,
                     "eval.threshold_policy": "dev_eer", "eval.threshold_placement": "midpoint"})
    metrics = train(cfg, ctx)
    dev = pd.read_csv(next(a for a in artifacts if a.endswith("scores.csv"))).query("split == 'dev'")
    scores, labels = dev["score"].to_numpy(dtype=np.float64), dev["label"].to_numpy()
    on_score = reference_eer_score(scores, labels)
    lower = max((s for s in scores if s < on_score), default=None)
    want = on_score if lower is None or math.isinf(on_score) else lower / 2 + on_score / 2
    assert metrics["test/p1/threshold"] == want == metrics["dev/p1/selected_threshold"]
