"""Paired bootstrap of a row's metric difference against the baseline, on the same test samples.

For every (protocol, seed) both rows have, the row's run and the baseline's run scored the same test set, and
both are re-scored under the very same resample of its units (:mod:`pad_core.ablation.uncertainty` draws once
per test set). In each of the B resamples the difference (row − baseline, percentage points) is averaged over
the (protocol, seed) pairs — the table's Δ. Its percentile interval and a two-sided bootstrap p-value
(:func:`two_sided_p`, resolution 1/B) follow. Works with one seed: the test samples, not the seeds, carry the
replication, so the p-value can be small at the seed counts people run (conditional on the trained seeds).

Rows whose test samples differ from the baseline's (another manifest or split: the path lists and labels of the
two runs differ) are not paired: a difference of two test sets is not a paired difference. Nor are rows whose
samples match but whose scores resample by other units (one row's scores.csv has subjects, the other's not): the
two could not share a draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pad_core.ablation.uncertainty import Draws, Key, percentile_interval

RESAMPLES_PER_ROW = 200  # B >= 200 x compared rows: the smallest Holm-adjusted p, 2m/(B+1), is at most 0.01
NOT_PAIRED = "not paired: different test sets"
OTHER_UNITS = "not paired: same test samples, other resampling units (a subject column in one row's scores only)"
NO_BOOTSTRAP = "no bootstrap"


@dataclass(frozen=True)
class Paired:
    """One row against the baseline: Δ interval, raw p, the pairs used, and why there is none (``note``)."""

    lo: float = float("nan")
    hi: float = float("nan")
    p: float = float("nan")
    pairs: int = 0
    note: str = ""  # "" when paired; NOT_PAIRED (+ where) or NO_BOOTSTRAP (+ why) otherwise
    per_protocol: dict[str, np.ndarray] = field(default_factory=dict)  # protocol -> (seeds, B) differences


def two_sided_p(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p of "no difference": twice the smaller share of resamples on either side of 0 (a
    resample at exactly 0 counts for both sides), with the Monte Carlo +1 (Davison & Hinkley), so the smallest
    p is 2/(B+1) and a row identical to the baseline (every difference 0) gets 1. NaN with no resample."""
    kept = deltas[~np.isnan(deltas)]
    if kept.size == 0:
        return float("nan")
    tail = min(int(np.sum(kept <= 0)), int(np.sum(kept >= 0)))
    return float(min(1.0, 2.0 * (tail + 1) / (kept.size + 1)))


def paired_bootstrap(draws: Draws, tabulated: set[Key], row: str, baseline: str, metric: str,
                     protocols: list[str], seeds: list[int]) -> Paired:
    """The row's paired comparison over every (protocol, seed) both rows have a tabulated run of."""
    pairs = [(p, s) for p in protocols for s in seeds if (row, p, s) in tabulated and (baseline, p, s) in tabulated]
    if not pairs:
        return Paired()
    why = next((w for p, s in pairs for k in ((row, p, s), (baseline, p, s)) if (w := draws.why_missing(k, metric))),
               "")
    if why:
        return Paired(pairs=len(pairs), note=f"{NO_BOOTSTRAP}: {why}")
    for fingerprint, refusal in ((draws.samples, NOT_PAIRED), (draws.test_set, OTHER_UNITS)):
        differ = sorted({p for p, s in pairs if fingerprint[(row, p, s)] != fingerprint[(baseline, p, s)]})
        if differ:
            return Paired(pairs=len(pairs), note=f"{refusal} ({', '.join(differ)})")
    per_pair = {(p, s): draws.values[(row, p, s)][metric] - draws.values[(baseline, p, s)][metric] for p, s in pairs}
    combined = np.mean(list(per_pair.values()), axis=0)  # NaN where a pair's resample had no value
    lo, hi = percentile_interval(combined, draws.boot)
    per_protocol = {p: np.array([d for (q, _), d in per_pair.items() if q == p]) for p in dict.fromkeys(q for q, _
                                                                                                       in pairs)}
    return Paired(lo, hi, two_sided_p(combined), len(pairs), "", per_protocol)
