"""Bootstrap confidence intervals of a table's cells from its runs' test scores.

A cell (row x protocol) holds one run per seed. All of them scored the same test set, so one resample is one
draw of that set's resampling units — subjects (samples of one identity are not independent), else videos, else
rows — shared by every seed's run of the protocol (and by every other row's run: the paired comparison reuses the
very same draws). The cell's value in a resample is the mean over its seeds of each run's metric under the
resample's weights; the interval is the 2.5th and 97.5th percentile of that value over B resamples (percentile
bootstrap). Draws are seeded from the test set's own fingerprint, so a table rebuilt from the same runs is
identical, and two runs on the same test set always see the same draws.

Seeds are not resampled (one level). With the 2-3 seeds sweeps run, a bootstrap over seeds has only 3 (2 seeds) or
10 (3 seeds) distinct draws and shrinks their variance by (k-1)/k: its percentiles would be coarse and too
narrow. The interval therefore says how precisely this test set measures these trained models' mean error —
conditional on the seeds, as stated in the footnote — and the seed-to-seed spread is reported next to it (±std
in the CSV and under ``--interval std``) and enters the seed planning (:mod:`pad_core.ablation.resolution`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

Key = tuple[str, str, int]  # (row, protocol, seed): one run
UNIT_WORDS = {"subject": "subject", "video": "video (no subject column)",
              "row": "sample (no subject or video column)"}


@dataclass(frozen=True)
class Bootstrap:
    """How the intervals are drawn: ``resamples`` (B), two-sided ``level``, base ``seed`` of the draws."""

    resamples: int = 1000
    level: float = 0.95
    seed: int = 0
    compared: int = 0  # draws of the compared (first) metric, whose Holm-corrected paired p needs more with many rows

    @property
    def compared_resamples(self) -> int:
        return max(self.resamples, self.compared)

    @property
    def percentiles(self) -> tuple[float, float]:
        tail = 100.0 * (1.0 - self.level) / 2.0
        return tail, 100.0 - tail


@dataclass(frozen=True, eq=False)
class RunScores:
    """One run's test units as its metrics counted them (rows, or videos when it scored per video), sorted by unit
    id so that runs on the same test set line up, with the resampling unit of each."""

    units: np.ndarray  # unit ids: the sample's path (row position when the file has none), or the video id
    scores: np.ndarray
    labels: np.ndarray  # 1 bona fide, 0 attack
    species: np.ndarray
    groups: np.ndarray  # the resampling unit of each line: its subject, else its video, else itself
    unit_kind: str  # "subject" | "video" | "row"
    threshold: float | None  # the run's decision threshold; None = re-found per resample (test_eer policy)
    apcer_mode: str = "pooled"
    tpr_positive: str = "live"  # the class TPR@FPR counts (eval.tpr_positive)

    @property
    def threshold_unknown(self) -> bool:
        """A run that logged no threshold (NaN): its thresholded metrics cannot be re-scored."""
        return self.threshold is not None and bool(np.isnan(self.threshold))

    @functools.cached_property
    def samples(self) -> str:
        """Fingerprint of the test samples (unit ids and labels): the path lists two paired runs must share."""
        return _digest(self.units, self.labels)

    @functools.cached_property
    def test_set(self) -> str:
        """Fingerprint of the samples and their resampling units: equal fingerprints mean the same draws fit both
        runs (same samples resampled by other units would be other draws)."""
        return _digest(self.units, self.labels, np.array([self.unit_kind]), self.groups)


def _digest(*parts: np.ndarray) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(np.asarray(part).astype(str).tobytes())
        digest.update(b"\0")
    return digest.hexdigest()


def from_scores_csv(rows: pd.DataFrame, threshold: float | None, per_video: bool,
                    apcer_mode: str = "pooled", tpr_positive: str = "live") -> RunScores:
    """A run's ``scores.csv`` test rows as :class:`RunScores`. ``per_video``: the run's metrics counted videos
    (mean of their frames' scores, :func:`pad_core.metrics.thresholds.per_unit` as the run's own metrics), so the
    bootstrap resamples those."""
    rows = rows.reset_index(drop=True)
    ids = rows["path"].astype(str) if "path" in rows else pd.Series([f"#{i}" for i in range(len(rows))])
    subject = _column(rows, "subject")
    video = _column(rows, "video")
    kind = "subject" if subject is not None else "video" if video is not None else "row"
    species = rows["attack_type"].astype(str) if "attack_type" in rows else pd.Series([""] * len(rows))
    lines = pd.DataFrame({"unit": ids, "score": rows["score"].astype(float), "label": rows["label"].astype(int),
                          "species": species, "subject": subject if subject is not None else "",
                          "video": video if video is not None else ""})
    if per_video and video is not None:
        lines["unit"] = np.where(lines["video"] == "", "\0" + lines["unit"], lines["video"])
        from pad_core.metrics.thresholds import per_unit

        lines = per_unit(lines, "test", ("species", "subject", "video")).reset_index()
    lines = lines.sort_values("unit", kind="stable")
    own = lines["unit"]
    groups = {"subject": lines["subject"].where(lines["subject"] != "", "\0" + own),
              "video": lines["video"].where(lines["video"] != "", "\0" + own), "row": own}[kind]
    return RunScores(own.to_numpy(str), lines["score"].to_numpy(float), lines["label"].to_numpy(int),
                      lines["species"].to_numpy(str), groups.to_numpy(str), kind, threshold, apcer_mode,
                     tpr_positive)


def _column(rows: pd.DataFrame, name: str) -> pd.Series | None:
    """The column as text ("" where empty), or None when the file has none or it is empty throughout."""
    if name not in rows:
        return None
    values = rows[name].fillna("").astype(str).str.strip()
    return values if (values != "").any() else None


NO_SCORES = "no scores.csv (runs of older code)"
NO_THRESHOLD = "no decision threshold logged"
NOT_RESCORED = "metric not re-scored"
MISMATCH = "scores.csv does not reproduce the logged value"
NO_LOGGED = "no logged value (a run without it is not in the mean either)"


@dataclass(frozen=True)
class Draws:
    """Every run's metrics (percent) under the B resamples of its test set, and why a run has none of a metric."""

    boot: Bootstrap
    values: dict[Key, dict[str, np.ndarray]]  # run -> metric -> (B,)
    test_set: dict[Key, str]  # run -> fingerprint of its samples and resampling units (same -> same draws)
    samples: dict[Key, str]  # run -> fingerprint of its samples alone
    unit_kind: dict[Key, str]
    skipped: dict[Key, dict[str, str]]  # run -> metric -> why it has no draws

    def why_missing(self, key: Key, metric: str) -> str:
        """"" when the run has draws of the metric, else the reason."""
        if key not in self.test_set:
            return NO_SCORES
        return self.skipped.get(key, {}).get(metric, "")


def draw_runs(runs: dict[Key, RunScores], metrics: list[str], boot: Bootstrap,
              logged: dict[Key, dict[str, float]] | None = None, compared: str | None = None) -> Draws:
    """One (B, n) weight matrix per distinct test set, shared by every run on it; each run re-scored under it.

    ``logged``: the runs' logged values (fractions). A run whose scores, all weights one, do not give its logged
    value (another scoring level, a changed file) gets no draws of that metric: an interval never belongs to
    another number than the one it is printed with. Vectorised: the weights are drawn once per test set and every
    metric of every run on it is B weighted counts (the shared API). The ``compared`` metric (the paired
    comparison's) gets ``boot.compared_resamples`` draws, the others the first ``boot.resamples`` of them: the
    cost of a many-row table grows with its rows for one metric only."""
    from pad_core.metrics.resample import group_weights

    values: dict[Key, dict[str, np.ndarray]] = {}
    skipped: dict[Key, dict[str, str]] = {}
    by_set: dict[str, list[Key]] = {}
    for key, run in runs.items():
        by_set.setdefault(run.test_set, []).append(key)
    for fingerprint, keys in sorted(by_set.items()):
        drawn = boot.compared_resamples if compared in metrics else boot.resamples
        weights = group_weights(runs[keys[0]].groups, drawn, draw_seed(boot.seed, fingerprint))
        for key in keys:
            values[key], skipped[key] = _rescored(runs[key], metrics, weights,
                                                  None if logged is None else logged.get(key, {}),
                                                  {m: drawn if m == compared else boot.resamples for m in metrics})
        del weights  # one test set's matrix in memory at a time
    return Draws(boot, values, {k: r.test_set for k, r in runs.items()}, {k: r.samples for k, r in runs.items()},
                 {k: r.unit_kind for k, r in runs.items()}, skipped)


def _rescored(run: RunScores, metrics: list[str], weights: np.ndarray, logged: dict[str, float] | None,
              draws: dict[str, int]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The run's draws of each metric it can re-score (one call: the scores sorted once for all), and why it has
    none of the others. Its scores, all weights one, must give the logged value: a run with no logged value of a
    metric gets no draws of it either (the table's mean leaves it out, so its interval must too). ``logged`` None:
    the caller vouches for the scores (tests of the statistics alone). ``draws``: metric -> how many of the
    weights' rows it is re-scored under."""
    from pad_core.metrics.resample import needs_threshold, resamplable, resampled_metrics

    skipped = {m: NOT_RESCORED for m in metrics if not resamplable(m)}
    skipped |= {m: NO_THRESHOLD for m in metrics if m not in skipped and needs_threshold(m) and run.threshold_unknown}
    if logged is not None:
        skipped |= {m: NO_LOGGED for m in metrics if m not in skipped and np.isnan(logged.get(m, np.nan))}
    kept = [m for m in metrics if m not in skipped]
    if not kept:
        return {}, skipped
    args = (run.scores, run.labels)
    options = dict(threshold=run.threshold, species=run.species, apcer_mode=run.apcer_mode,
                   tpr_positive=run.tpr_positive)
    whole = resampled_metrics(*args, np.ones((1, len(run.scores)), np.int32), kept, **options)
    mismatch = {m for m in kept if logged is not None and not np.isclose(whole[m][0], logged[m], rtol=0.0, atol=1e-9)}
    skipped |= {m: MISMATCH for m in mismatch}
    kept = [m for m in kept if m not in mismatch]
    values: dict[str, np.ndarray] = {}
    for count in sorted({draws[m] for m in kept}):  # one call per draw count: the scores sorted once for each
        values |= resampled_metrics(*args, weights[:count], [m for m in kept if draws[m] == count], **options)
    return {m: 100.0 * np.asarray(v, dtype=float) for m, v in values.items()}, skipped


def draw_seed(base: int, fingerprint: str) -> int:
    """The draws' seed: the base seed and the test set (same set -> same draws; other sets -> other draws)."""
    return (base + int(fingerprint[:8], 16)) % 2**32


def cell_draws(draws: Draws, keys: list[Key], metric: str) -> tuple[np.ndarray | None, str]:
    """(the cell's value — mean over its seeds' runs — in each resample, "") or (None, why a run has none)."""
    why = next((w for k in keys if (w := draws.why_missing(k, metric))), "" if keys else NO_SCORES)
    if why:
        return None, why
    return np.mean([draws.values[k][metric] for k in keys], axis=0), ""


def percentile_interval(values: np.ndarray, boot: Bootstrap) -> tuple[float, float]:
    """The percentile interval over the resamples that have a value (a resample lacking a class has none)."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(kept, boot.percentiles)
    return float(lo), float(hi)


def cell_intervals(cells: dict[tuple[str, str], list[Key]], draws: Draws, metrics: list[str],
                   groups: dict[str, list[str]]) -> pd.DataFrame:
    """``row, protocol, metric, lo, hi, basis, why`` per cell: basis ``ci`` when every run of the cell has draws
    of the metric, else ``std`` (lo/hi NaN: the cell shows ±std, and ``why`` says why). A group column (P2 = P2.1,
    P2.2) is the mean of its members' cell values in each resample (members' test sets are drawn independently)."""
    records, member = [], {}
    for (row, protocol), keys in cells.items():
        for metric in metrics:
            member[(row, protocol, metric)] = cell_draws(draws, keys, metric)
            records.append(_interval(row, protocol, metric, *member[(row, protocol, metric)], draws.boot))
    for group, names in groups.items():
        for row in dict.fromkeys(r for r, _ in cells):
            for metric in metrics:
                parts = [member.get((row, p, metric), (None, NO_SCORES)) for p in names]
                why = next((w for _, w in parts if w), "")
                values = None if why else np.mean([v for v, _ in parts], axis=0)
                records.append(_interval(row, group, metric, values, why, draws.boot))
    return pd.DataFrame.from_records(records, columns=INTERVAL_COLUMNS)


INTERVAL_COLUMNS = ["row", "protocol", "metric", "lo", "hi", "basis", "why"]


def _interval(row: str, protocol: str, metric: str, values: np.ndarray | None, why: str, boot: Bootstrap) -> dict:
    line = {"row": row, "protocol": protocol, "metric": metric, "lo": np.nan, "hi": np.nan, "basis": "std",
            "why": why}
    if values is not None:
        line["lo"], line["hi"] = percentile_interval(values, boot)
        line["basis"] = "ci"
    return line


def dropped_resamples(draws: Draws) -> int:
    """Resamples of some run's metric that had no value (a draw without one of the classes)."""
    return int(max((np.isnan(v).sum() for run in draws.values.values() for v in run.values()), default=0))


def method_note(draws: Draws, intervals: pd.DataFrame, seeds: int, shown: str) -> str:
    """The footnote's account of the intervals: method, B, unit per protocol, level, seeds, and fallbacks."""
    boot, fallback = draws.boot, intervals[intervals["basis"] == "std"]
    if (intervals["basis"] != "ci").all():
        return " No bootstrap interval (±std over seeds instead): " + "; ".join(
            f"{why}: {_cells_text(part, len(intervals))}" for why, part in fallback.groupby("why", sort=True)) + "."
    where = "(their spread: ±std in the CSV)" if shown == "ci" else "(shown here: ±std; intervals: the CSV's lo/hi)"
    more = (f" ({boot.compared_resamples} for the first metric, which its paired comparison needs)"
            if boot.compared_resamples > boot.resamples else "")
    text = (f" Intervals: {100 * boot.level:g}% percentile bootstrap, B={boot.resamples}{more} resamples of the test "
            f"set by {_units_by_protocol(draws)}; one draw per resample shared by every seed's run of a protocol (and "
            f"by every row: same test set); cell = mean over its seeds (up to {seeds}); seeds are not resampled (with "
            "2-3 seeds a seed bootstrap has 3-10 distinct draws and understates their spread), so an interval is the "
            f"test set's sampling error of these seeds' mean, conditional on the seeds {where}.")
    if not fallback.empty:
        mark = "marked †, " if shown == "ci" else ""
        text += f" No interval ({mark}±std over seeds instead): " + "; ".join(
            f"{why}: {_cells_text(part, len(intervals))}" for why, part in fallback.groupby("why", sort=True)) + "."
    split = cells_on_several_test_sets(draws)
    if split:
        text += (f" Except in {', '.join(f'{r}·{p}' for r, p in split)}: their seeds ran on different test sets "
                 "(mixed data versions), so each seed's draws are its own and independent of the others'.")
    dropped = dropped_resamples(draws)
    if dropped:
        text += f" Up to {dropped} resamples of a run lacked one class and were left out of its percentiles."
    return text


def cells_on_several_test_sets(draws: Draws) -> list[tuple[str, str]]:
    """(row, protocol) cells whose seeds' runs scored different test sets (a table built with
    ``--allow-mixed-data``): they cannot share a draw, which the footnote must not claim."""
    sets: dict[tuple[str, str], set[str]] = {}
    for (row, protocol, _), fingerprint in draws.test_set.items():
        sets.setdefault((row, protocol), set()).add(fingerprint)
    return sorted(cell for cell, found in sets.items() if len(found) > 1)


def _cells_text(part: pd.DataFrame, total: int) -> str:
    """"all cells", or the (row · protocol METRIC) cells listed."""
    if len(part) == total:
        return "all cells"
    return ", ".join(sorted({f"{r}·{p} {m.upper()}" for r, p, m in zip(part["row"], part["protocol"],
                                                                      part["metric"])}))


def _units_by_protocol(draws: Draws) -> str:
    said: dict[str, set[str]] = {}
    for (_, protocol, _), kind in draws.unit_kind.items():
        said.setdefault(protocol, set()).add(kind)
    by_kind: dict[str, list[str]] = {}
    for protocol, kinds in sorted(said.items()):
        by_kind.setdefault(" and ".join(UNIT_WORDS[k] for k in sorted(kinds)), []).append(protocol)
    if len(by_kind) == 1:
        return next(iter(by_kind))
    return "; ".join(f"{kind} on {', '.join(protocols)}" for kind, protocols in by_kind.items())
