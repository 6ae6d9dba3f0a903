"""Seed planning: the smallest difference of the first metric a table can resolve, and the seeds a target needs.

The table's Δ is the mean over P protocols and k seeds of a row's paired difference to the baseline. Its variance
has two parts:

- seeds: each (protocol, seed) pair trains two models whose seed effects differ; with σ²_seed the between-seed
  variance of one row's cell (pooled over rows and protocols: Σ(n−1)s² / Σ(n−1)), a pair's difference varies by
  2σ²_seed and the mean over k·P pairs by 2σ²_seed / (k·P);
- the test set: each protocol's test samples are one sample of subjects. From the bootstrap draws of the per-seed
  differences on one protocol (a k x B matrix), the average covariance between two different seeds' differences,
  c̄, is the part of the test-set sampling variance that every seed shares — averaging seeds does not shrink it —
  (the seed-specific rest is already inside the observed between-seed spread). Pooled over rows and protocols;
  with one seed the whole variance stands in for it (an upper bound). Over P protocols (independent test sets):
  c̄ / P.

With z = z_{1−α/2} + z_{power} (α = 0.05 two-sided, power 0.8: z = 1.960 + 0.842 = 2.802) the smallest difference
a table of k seeds resolves is

    δ(k) = z · sqrt( (2σ²_seed / k + c̄) / P ),

and a target difference δ needs

    k = ceil( 2σ²_seed / (P·δ²/z² − c̄) )  seeds, or none at all when P·δ²/z² ≤ c̄:

then the test set's own sampling error (floor z·sqrt(c̄/P)) is larger than the target, and only more test
subjects (or protocols) help. All in percentage points. Approximations, stated in the footnote: rows' seed
effects independent (conservative when the shared seed correlates them), equal variances across rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from pad_core.ablation.paired import Paired
from pad_core.ablation.uncertainty import Draws, Key

ALPHA, POWER = 0.05, 0.8


@dataclass(frozen=True)
class Resolution:
    """Pooled variances (percentage points²) of the first metric and what they allow."""

    metric: str
    seed_var: float  # σ²_seed, pooled over rows and protocols
    seed_df: int  # its degrees of freedom (0: one seed per cell, unknown)
    test_var: float | None  # c̄: the shared test-set variance of a paired difference; None: no scores
    protocols: int  # P
    seeds: int  # k of this table
    source: str = "paired"  # where c̄ came from: "paired" differences, or "rows" (2x one row's: conservative)

    @property
    def z(self) -> float:
        return float(norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER))

    def smallest_difference(self, seeds: int | None = None) -> float:
        k = seeds or self.seeds
        return self.z * math.sqrt((2 * self.seed_var / k + (self.test_var or 0.0)) / self.protocols)

    def floor(self) -> float:
        """What no number of seeds gets below: the test set's shared sampling error."""
        return self.z * math.sqrt((self.test_var or 0.0) / self.protocols)

    def seeds_needed(self, target: float) -> int | None:
        """Seeds for ``target`` (pp); None when the test set's floor is at or above it."""
        room = self.protocols * target**2 / self.z**2 - (self.test_var or 0.0)
        if room <= 0:
            return None
        return max(1, math.ceil(2 * self.seed_var / room))

    def note(self) -> str:
        """The footnote's line."""
        if self.seed_df == 0:
            return (f" Resolvable {self.metric.upper()} difference: not known (one seed per cell: no between-seed "
                    "variance to estimate).")
        floor = ("" if self.test_var is None else f", test-set floor {self.floor():.2f}")
        bound = (" (test-set variance unknown: no bootstrap draws of it; a lower bound)" if self.test_var is None else
                 " (test-set variance from one row's draws, doubled: conservative)" if self.source == "rows" else "")
        return (f" Resolvable {self.metric.upper()} difference with {self.seeds} seed{'s' * (self.seeds != 1)} "
                f"(α={ALPHA:g} two-sided, power {POWER:g}): {self.smallest_difference():.2f} pp "
                f"(between-seed sd {math.sqrt(self.seed_var):.2f} pp, {self.seed_df} df{floor}){bound}; "
                "δ(k) = z·sqrt((2σ²_seed/k + c̄)/P).")

    def plan(self, target: float) -> str:
        """``--plan --target-diff``'s answer."""
        if self.seed_df == 0:
            return ("seed planning: the finished sweep has one seed per cell, so its between-seed variance is not "
                    "known; run 2-3 seeds first")
        head = (f"seed planning ({self.metric.upper()}, α={ALPHA:g} two-sided, power {POWER:g}, {self.protocols} "
                f"protocol{'s' * (self.protocols != 1)}): between-seed sd {math.sqrt(self.seed_var):.2f} pp "
                f"({self.seed_df} df)")
        head += (", test-set variance not known (no bootstrap draws: runs without scores.csv): seeds below are a "
                 "lower bound" if self.test_var
                 is None else f", test-set floor {self.floor():.2f} pp")
        needed = self.seeds_needed(target)
        if needed is None:
            return (f"{head}\n  a difference of {target:g} pp: no number of seeds resolves it — the test set's own "
                    f"sampling error (floor {self.floor():.2f} pp) dominates and seed averaging does not shrink it; "
                    "more test subjects or protocols would")
        return (f"{head}\n  a difference of {target:g} pp needs {needed} seed{'s' * (needed != 1)} per cell "
                f"(this sweep has {self.seeds}: resolves {self.smallest_difference():.2f} pp)")


def pooled_seed_variance(long: pd.DataFrame, metric: str) -> tuple[float, int]:
    """(Σ(n−1)s² / Σ(n−1), Σ(n−1)) of one metric's cells (row x protocol), in percentage points²."""
    part = long[long["metric"] == metric].dropna(subset=["value"])
    by_cell = part.groupby(["row", "protocol"])["value"]
    n, var = by_cell.count(), by_cell.var(ddof=1)
    df = int((n - 1).clip(lower=0).sum())
    return (float(((n - 1) * var.fillna(0)).sum() / df) if df else 0.0), df


def shared_test_variance(paired: dict[str, Paired]) -> float | None:
    """c̄ from the paired differences: per (row, protocol), the average covariance (over resamples) between two
    different seeds' differences; the variance itself with one seed. Mean over rows and protocols."""
    parts = [_shared(d) for p in paired.values() for d in p.per_protocol.values()]
    parts = [v for v in parts if not np.isnan(v)]
    return max(0.0, float(np.mean(parts))) if parts else None  # a covariance estimate can dip below 0


def row_test_variance(draws: Draws, cells: dict[tuple[str, str], list[Key]], metric: str) -> float | None:
    """c̄ of single rows' cells (no paired row to use), doubled for a difference of two rows: conservative, the
    test-set difficulty both rows share does not cancel."""
    parts = []
    for keys in cells.values():
        if keys and all(metric in draws.values.get(k, {}) for k in keys):
            parts.append(_shared(np.array([draws.values[k][metric] for k in keys])))
    parts = [v for v in parts if not np.isnan(v)]
    return max(0.0, 2 * float(np.mean(parts))) if parts else None


def _shared(matrix: np.ndarray) -> float:
    """Average off-diagonal covariance of a (seeds, B) matrix over complete resamples (the variance for 1 seed)."""
    matrix = matrix[:, ~np.isnan(matrix).any(axis=0)]
    if matrix.shape[1] < 2:
        return float("nan")
    cov = np.atleast_2d(np.cov(matrix))
    k = cov.shape[0]
    if k == 1:
        return float(cov[0, 0])
    return float((cov.sum() - np.trace(cov)) / (k * (k - 1)))


def resolution(long: pd.DataFrame, metric: str, protocols: int, seeds: int, paired: dict[str, Paired],
               draws: Draws | None, cells: dict[tuple[str, str], list[Key]]) -> Resolution:
    seed_var, df = pooled_seed_variance(long, metric)
    test_var, source = shared_test_variance(paired), "paired"
    if test_var is None and draws is not None:
        test_var, source = row_test_variance(draws, cells, metric), "rows"
    return Resolution(metric, seed_var, df, test_var, protocols, seeds, source)
