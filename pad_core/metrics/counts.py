"""The one count-based core behind every PAD metric: integer operating counts and exact threshold searches.

A score set is sorted once; its candidate thresholds are the distinct scores (ascending) plus +inf. For B
weightings of the rows (``weights`` of shape (B, n), integer multiplicities; None = each row once) the core keeps
the cumulative weights of attacks and of bona fide in score order, from which FA = attacks accepted (s >= tau) and
FR = bona fide rejected (s < tau) at any candidate tau are two integer look-ups. Every search (EER, "at most x"
budgets) compares these integers, never rates: rates with different denominators carry rounding error, so
exactly tied operating points would compare unequal. FA falls and FR rises with tau, so each search is a
vectorised binary search over the candidates (a few dozen look-ups per weighting, after one cumulative sum).
:mod:`pad_core.metrics.pad` (one set) and :mod:`pad_core.metrics.resample` (bootstrap resamples) both call this
module, so a resample whose weights are all ones is pad.py's number by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

ROWS_PER_CHUNK = 4_000_000  # weights rows x samples handled at once: bounds memory (a few 10s of MB per array)


@dataclass(frozen=True, eq=False)
class SortedSet:
    """A score set sorted once. ``attack_order``/``live_order`` list each class's rows by ascending score;
    ``taus`` are the candidate thresholds (distinct scores, then +inf); ``attack_below[t]``/``live_below[t]`` count
    each class's rows scored below ``taus[t]``; ``live_lt``/``live_le`` count the attacks scored below / at most
    each bona fide row's score (AUC)."""

    taus: np.ndarray
    attack_order: np.ndarray
    live_order: np.ndarray
    attack_below: np.ndarray
    live_below: np.ndarray
    live_lt: np.ndarray
    live_le: np.ndarray


@dataclass(frozen=True, eq=False)
class Counts:
    """Cumulative weights of B weightings of a :class:`SortedSet`: FA and FR at any candidate column."""

    ordered: SortedSet
    attack_cum: np.ndarray  # (B, n_attack rows): weight of the attacks up to each one, ascending score
    live_cum: np.ndarray  # (B, n_live rows)
    n_attack: np.ndarray  # (B,) int64
    n_live: np.ndarray  # (B,) int64

    @property
    def taus(self) -> np.ndarray:
        return self.ordered.taus

    def both_classes(self) -> np.ndarray:
        return (self.n_attack > 0) & (self.n_live > 0)

    def fa(self, cols: np.ndarray) -> np.ndarray:
        """(B,) attacks accepted (s >= tau) at one candidate column per weighting."""
        return self.n_attack - _cum_at(self.attack_cum, self.ordered.attack_below[cols])

    def fr(self, cols: np.ndarray) -> np.ndarray:
        """(B,) bona fide rejected (s < tau) at one candidate column per weighting."""
        return _cum_at(self.live_cum, self.ordered.live_below[cols])

    def all_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(FA, FR), each (B, T): every candidate column (for curves; B small)."""
        cols = np.broadcast_to(np.arange(len(self.taus)), (len(self.n_attack), len(self.taus)))
        return (self.n_attack[:, None] - _cum_at(self.attack_cum, self.ordered.attack_below[cols]),
                _cum_at(self.live_cum, self.ordered.live_below[cols]))


def _cum_at(cum: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Weight of the first ``below`` rows of each weighting (``below``: (B,) or (B, m) per row; 0 -> 0)."""
    rows = np.arange(len(cum)).reshape((-1,) + (1,) * (below.ndim - 1))
    if cum.shape[1] == 0:
        return np.zeros(below.shape, np.int64)
    return np.where(below > 0, cum[rows, np.maximum(below - 1, 0)], 0).astype(np.int64)


def sort_set(scores: np.ndarray, labels: np.ndarray) -> SortedSet:
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must be 1-D and of one length")
    if not np.isfinite(scores).all():
        raise ValueError(f"{int((~np.isfinite(scores)).sum())} scores are NaN or infinite: scores must be finite")
    check_labels(labels)
    attack_order, live_order = (np.flatnonzero(labels == c) for c in (0, 1))
    attack_order = attack_order[np.argsort(scores[attack_order], kind="stable")]
    live_order = live_order[np.argsort(scores[live_order], kind="stable")]
    attack, live = scores[attack_order], scores[live_order]
    taus = np.append(np.unique(scores), np.inf)
    return SortedSet(taus, attack_order, live_order, np.searchsorted(attack, taus, side="left"),
                     np.searchsorted(live, taus, side="left"), np.searchsorted(attack, live, side="left"),
                     np.searchsorted(attack, live, side="right"))


def check_labels(labels: np.ndarray) -> None:
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        raise ValueError(f"labels must be 1 (bona fide) or 0 (attack); got {np.unique(labels[bad])[:5].tolist()}")


def as_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    """(B, n) integer multiplicities; None = one weighting with every row once."""
    if weights is None:
        return np.ones((1, n), dtype=np.int64)
    weights = np.asarray(weights)
    if weights.ndim != 2 or weights.shape[1] != n:
        raise ValueError(f"weights of shape {weights.shape} do not fit {n} scores: expected (B, {n})")
    if not np.issubdtype(weights.dtype, np.integer) or (weights < 0).any():
        raise ValueError("weights must be non-negative integers (row multiplicities)")
    return weights


def operating_counts(ordered: SortedSet, weights: np.ndarray) -> Counts:
    """Cumulative class weights of each row of ``weights`` ((B, n), rows in the set's original order)."""
    wide = np.int64 if int(weights.max(initial=0)) * weights.shape[1] >= 2**30 else np.int32  # sums fit
    cums = []
    for order in (ordered.attack_order, ordered.live_order):
        cum = np.take(weights, order, axis=1).astype(wide, copy=False)  # gathered in score order once
        cums.append(np.cumsum(cum, axis=1, out=cum) if cum.size else cum)
    totals = [c[:, -1].astype(np.int64) if c.shape[1] else np.zeros(len(weights), np.int64) for c in cums]
    return Counts(ordered, cums[0], cums[1], totals[0], totals[1])


def first_column(counts: Counts, holds: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """(B,) the first candidate column where ``holds(cols)`` ((B,) bool at one column per weighting) is true, for a
    condition that turns true once and stays true as tau rises, and holds at the last column (+inf)."""
    lo = np.zeros(len(counts.n_attack), np.int64)
    hi = np.full(len(counts.n_attack), len(counts.taus) - 1, np.int64)
    while (lo < hi).any():
        mid = (lo + hi) // 2
        ok = holds(mid)
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid + 1)
    return lo


def eer_index(c: Counts) -> np.ndarray:
    """(B,) column of the EER threshold: smallest gap |FA*N_live - FR*N_attack|, ties to the smaller
    FA*N_live + FR*N_attack, then to the lower tau. Exact in int64.

    d = FA*N_live - FR*N_attack never increases with tau (FA falls, FR rises), so the smallest |d| lies where d
    crosses zero: at k, the first column with d <= 0, or at the first column of the run of equal d just before
    it. Columns with equal d have equal counts (both move the same way), so the lowest tau of a run stands for it.
    Rows lacking a class give an index too; callers mask them (NaN)."""

    def d(cols: np.ndarray) -> np.ndarray:
        return c.fa(cols) * c.n_live - c.fr(cols) * c.n_attack

    k = first_column(c, lambda cols: d(cols) <= 0)  # d at +inf = -FR*N_attack <= 0
    d_before = d(np.maximum(k - 1, 0))
    j = first_column(c, lambda cols: d(cols) <= d_before)  # first column of the run d == d_before
    key_after, key_before = (-d(k), _error_sum(c, k)), (d_before, _error_sum(c, j))
    take_before = (k > 0) & ((key_before[0] < key_after[0]) |
                             ((key_before[0] == key_after[0]) & (key_before[1] <= key_after[1])))
    return np.where(take_before, j, k)


def _error_sum(c: Counts, cols: np.ndarray) -> np.ndarray:
    """FA*N_live + FR*N_attack at one column per weighting (proportional to APCER + BPCER)."""
    return c.fa(cols) * c.n_live + c.fr(cols) * c.n_attack


def at_most(budget: float | Fraction | str, totals: np.ndarray) -> np.ndarray:
    """(B,) the largest integer count within ``budget`` of each total: floor(x * N), decided exactly with the
    decimal the user wrote: a float is read as the shortest decimal that gives it (0.3 is 3/10, not the binary
    float just below it)."""
    x = budget if isinstance(budget, Fraction) else Fraction(str(budget) if isinstance(budget, str)
                                                              else str(float(budget)))
    if not 0 <= x <= 1:
        raise ValueError(f"budget {budget} outside [0, 1]")
    return np.array([x.numerator * int(n) // x.denominator for n in totals], dtype=np.int64)


def within_budget(c: Counts, budget: float | Fraction | str) -> np.ndarray:
    """(B,) the first (lowest-tau) column whose FA is at most ``budget`` of N_attack (exactly, :func:`at_most`)."""
    limits = at_most(budget, c.n_attack)
    return first_column(c, lambda cols: c.fa(cols) <= limits)


def auc_counts(c: Counts, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(numerator, denominator) of AUC = P(s_live > s_attack) + P(equal) / 2, both int64 per weighting: the sum
    over bona fide rows of weight * (attacks below + attacks at or below), over 2 * N_live * N_attack."""
    o = c.ordered
    attack_cum = np.zeros((len(weights), o.attack_order.size + 1), np.int64)  # a leading 0: "no attack below"
    attack_cum[:, 1:] = c.attack_cum
    beaten = np.take(attack_cum, o.live_lt, axis=1)  # the same columns in every weighting: one gather each
    beaten += np.take(attack_cum, o.live_le, axis=1)
    live_w = np.take(weights, o.live_order, axis=1)
    return (live_w * beaten).sum(axis=1), 2 * c.n_live * c.n_attack


def decision_counts(scores: np.ndarray, labels: np.ndarray, species: np.ndarray | None, tau: float | np.ndarray,
                    weights: np.ndarray) -> dict[str, np.ndarray]:
    """Counts at a decision threshold, one value per weighting: ``fa``/``n_attack`` per attack species (columns of
    ``species_fa``/``species_n``, names in ``species``), ``fr``/``n_live``. ``tau`` is one threshold for all rows
    (one matrix product of the weights with indicator columns) or one per weighting ((B,) array)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    check_labels(labels)
    attack = labels == 0
    kinds = np.asarray(species).astype(str) if species is not None else np.full(len(labels), "attack")
    names = np.unique(kinds[attack])
    onehot = (kinds[:, None] == names[None, :]) & attack[:, None]
    columns = np.column_stack([onehot, labels == 1]).astype(np.float64)  # species..., live
    fixed = np.ndim(tau) == 0
    accepted = np.empty((len(weights), columns.shape[1]), np.int64)
    total = np.empty_like(accepted)
    step = max(1, ROWS_PER_CHUNK // max(1, len(scores)))
    for lo in range(0, len(weights), step):
        w = weights[lo:lo + step].astype(np.float64)  # float products are exact: integer sums far below 2**53
        if fixed:  # one matrix product with indicator columns
            both = w @ np.column_stack([columns * (scores >= tau)[:, None], columns])
            acc, tot = both[:, :columns.shape[1]], both[:, columns.shape[1]:]
        else:
            mask = scores[None, :] >= np.asarray(tau, dtype=np.float64)[lo:lo + len(w), None]
            acc, tot = (w * mask) @ columns, w @ columns
        accepted[lo:lo + len(w)], total[lo:lo + len(w)] = np.rint(acc), np.rint(tot)
    return {"species": names, "species_fa": accepted[:, :-1], "species_n": total[:, :-1],
            "fa": accepted[:, :-1].sum(axis=1), "n_attack": total[:, :-1].sum(axis=1),
            "fr": total[:, -1] - accepted[:, -1], "n_live": total[:, -1]}


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as floats, NaN where den = 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def decision_rates(counts: dict[str, np.ndarray], apcer_mode: str = "pooled") -> dict[str, np.ndarray]:
    """Rates from :func:`decision_counts`: apcer (pooled), apcer_max (worst species present), bpcer, acer (with
    the ``apcer_mode`` headline), hter, acc and ``apcer_<species>``; NaN where a denominator is 0."""
    apcer, bpcer = ratio(counts["fa"], counts["n_attack"]), ratio(counts["fr"], counts["n_live"])
    per_species = ratio(counts["species_fa"], counts["species_n"])
    with np.errstate(invalid="ignore"):
        present = ~np.isnan(per_species)
        apcer_max = np.where(present.any(axis=1), np.max(np.where(present, per_species, -np.inf), axis=1,
                                                            initial=-np.inf), np.nan)
    headline = apcer_max if apcer_mode == "max" else apcer
    correct = counts["n_attack"] - counts["fa"] + counts["n_live"] - counts["fr"]
    out = {"apcer": apcer, "apcer_max": apcer_max, "bpcer": bpcer, "acer": (headline + bpcer) / 2,
           "hter": (apcer + bpcer) / 2, "acc": ratio(correct, counts["n_attack"] + counts["n_live"])}
    out.update({f"apcer_{sp}": per_species[:, i] for i, sp in enumerate(counts["species"])})
    return out


def place(taus: np.ndarray, index: int, placement: str) -> float:
    """The threshold of candidate column ``index`` under ``placement``.

    "score": the candidate itself (a score of the set). "midpoint" (bob.measure): halfway between it and the next
    lower distinct score, so the set splits the same way but the threshold sits in the gap. The accept-all
    candidate (the lowest score: nothing lower) and the reject-all candidate (+inf) stay as they are."""
    if placement not in ("score", "midpoint"):
        raise ValueError(f"threshold placement {placement!r}: use 'score' or 'midpoint'")
    tau = float(taus[index])
    if placement == "score" or index == 0 or np.isinf(tau):
        return tau
    lower = float(taus[index - 1])
    mid = lower / 2 + tau / 2  # no overflow; adjacent floats can round down onto `lower`
    return mid if mid > lower else tau
