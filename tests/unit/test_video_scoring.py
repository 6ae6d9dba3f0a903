"""Scoring per video (issue 17): the mean frame score per video is the unit of every threshold and metric.

The metric values are checked against numbers computed by hand (in the comments) on a tiny set of twelve frames from
six videos, interleaved so that grouping, not order, makes the videos; the same frames scored per frame give other
numbers. A video whose frames disagree on the label is refused with its id; so is scoring per video on a manifest
without video ids, before any training, through ``TrainingRun`` and through a sweep's command line. The level is a
tag on every run and a line of the table's footnote.
"""

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pad_core.ablation.table import score_level_note
from pad_core.ablation.view import TableView
from pad_core.config import config_hash, from_flat, scale_overrides
from pad_core.config.schema import EvalCfg
from pad_core.data.protocols import _parse_benchmark, resolve_score_level
from pad_core.engine import RunContext, TrainingRun, train
from pad_core.engine.evaluate import score_set
from pad_core.errors import ConfigError, DataError
from pad_core.metrics import ScoreSet, select_threshold, split_metrics
from pad_core.models.variants import VARIANTS

# frame -> (video, label, species, score); video "" = a still image (a video of one frame)
FRAMES = [("L1", 1, "none", 0.9), ("A1", 0, "print", 0.0), ("L2", 1, "none", 0.6), ("A2", 0, "replay", 0.6),
          ("L1", 1, "none", 0.7), ("A3", 0, "replay", 0.6), ("L2", 1, "none", 0.4), ("A1", 0, "print", 0.2),
          ("", 1, "none", 0.3), ("A2", 0, "replay", 0.2), ("L2", 1, "none", 0.5), ("A3", 0, "replay", 0.8)]
# per video: live L1 0.8, L2 0.5, still 0.3; attack A1 0.1 (print), A2 0.4, A3 0.7 (replay)


def frame_table() -> pd.DataFrame:
    return pd.DataFrame(FRAMES, columns=["video", "label", "attack_type", "score"])


def scored(split: str, level: str) -> ScoreSet:
    frame = frame_table()
    return score_set(split, frame, frame["score"].to_numpy(), level)


def test_video_scores_are_the_mean_of_their_frames():
    units = scored("test", "video").units
    by_score = dict(zip(np.round(units.scores, 6), zip(units.labels, units.species, units.frames)))
    assert by_score == {0.8: (1, "none", 2), 0.5: (1, "none", 3), 0.3: (1, "none", 1), 0.1: (0, "print", 2),
                        0.4: (0, "replay", 2), 0.7: (0, "replay", 2)}


def test_every_metric_counts_videos_as_computed_by_hand():
    cfg = EvalCfg(tpr_at_fpr=(0.1, 0.4))
    dev, test = scored("dev", "video"), scored("test", "video")
    # dev EER: taus 0.1 .. 0.8, inf; at 0.5 APCER = |{0.7}|/3 = BPCER = |{0.3}|/3, the only zero gap
    tau = select_threshold("dev_eer", dev=dev, test=None)
    assert tau == pytest.approx(0.5)
    m = split_metrics(test, "P1", tau, cfg)
    expected = {
        "apcer": 1 / 3, "bpcer": 1 / 3, "acer": 1 / 3, "hter": 1 / 3,  # attack 0.7 accepted, live 0.3 rejected
        "acc": 4 / 6,  # 0.8, 0.5 accepted; 0.1, 0.4 rejected
        "auc": 6 / 9,  # live > attack pairs: 0.8 > 3, 0.5 > 2, 0.3 > 1
        "eer": 1 / 3,
        "tpr_at_fpr_0.1": 1 / 3,  # FPR <= 0.1 only at tau 0.8 (TPR 1/3) or above
        "tpr_at_fpr_0.4": 2 / 3,  # FPR 1/3 at tau 0.5: TPR 2/3
        "apcer_print": 0.0, "apcer_replay": 0.5,
        "n": 6, "n_frames": 12, "frames_per_video_min": 1, "frames_per_video_max": 3,
    }
    for metric, value in expected.items():
        assert m[f"test/p1/{metric}"] == pytest.approx(value), metric


def test_the_same_frames_scored_per_frame_give_frame_numbers_and_no_video_keys():
    m = split_metrics(scored("test", "frame"), "P1", 0.5, EvalCfg())
    # frames at tau 0.5: attacks 0.6, 0.6, 0.8 of 6 accepted; live 0.4, 0.3 of 6 rejected
    assert m["test/p1/apcer"] == pytest.approx(0.5) and m["test/p1/bpcer"] == pytest.approx(2 / 6)
    assert m["test/p1/n"] == 12 and not any("frames" in k for k in m)


def test_the_table_reads_a_video_run_per_video_and_a_frame_run_per_frame():
    """The table's figures and bootstrap read scores.csv in the units the run's metrics counted; a frame-level
    run with videos resamples by video (its frames are not independent) but scores frames."""
    from pad_core.ablation.uncertainty import from_scores_csv

    rows = frame_table().assign(video=lambda f: f["video"].replace("", np.nan))  # as scores.csv reads back
    units = from_scores_csv(rows, 0.5, per_video=True)
    assert sorted(zip(np.round(units.scores, 6), units.labels)) == [
        (0.1, 0), (0.3, 1), (0.4, 0), (0.5, 1), (0.7, 0), (0.8, 1)]
    frames = from_scores_csv(rows, 0.5, per_video=False)
    assert len(frames.scores) == 12 and frames.unit_kind == "video"
    assert len(set(frames.groups)) == 6  # five videos and the still image


def test_the_tables_reader_refuses_a_video_whose_frames_disagree_as_the_run_does():
    """One per-video rule (thresholds.per_unit) for the run's metrics and the table's bootstrap."""
    from pad_core.ablation.uncertainty import from_scores_csv

    rows = frame_table()
    rows.loc[rows["video"] == "A2", "label"] = [0, 1]
    with pytest.raises(DataError, match=r"1 videos of the test split have frames labelled both.*\['A2'\]"):
        from_scores_csv(rows, 0.5, per_video=True)


def test_a_video_whose_frames_disagree_on_the_label_is_refused_with_its_id():
    frame = frame_table()
    frame.loc[frame["video"] == "A2", "label"] = [0, 1]
    bad = score_set("test", frame, frame["score"].to_numpy(), "video")
    with pytest.raises(DataError, match=r"1 videos of the test split have frames labelled both.*\['A2'\].*Fix:"):
        split_metrics(bad, "P1", 0.5, EvalCfg())


def test_the_level_comes_from_the_benchmark_then_the_protocol_then_eval():
    bench = _parse_benchmark({"benchmark": "b", "threshold_policy": "dev_eer", "score_level": "video",
                              "protocols": {"A": {"train": {}, "test": {}},
                                            "B": {"train": {}, "test": {}, "score_level": "frame"}}})
    assert [bench.protocol(p).score_level for p in "AB"] == ["video", "frame"]
    assert resolve_score_level("protocol", bench.protocol("A")) == "video"
    assert resolve_score_level("frame", bench.protocol("A")) == "frame"
    with pytest.raises(ConfigError, match=r"score_level='clip': not a scoring level \(protocol A of b\)"):
        _parse_benchmark({"benchmark": "b", "threshold_policy": "dev_eer",
                          "protocols": {"A": {"train": {}, "test": {}, "score_level": "clip"}}})


def test_the_override_keeps_existing_config_hashes():
    smoke = scale_overrides("smoke")
    assert config_hash(from_flat(smoke)) == config_hash(from_flat({**smoke, "eval.score_level": "protocol"}))
    assert config_hash(from_flat(smoke)) != config_hash(from_flat({**smoke, "eval.score_level": "video"}))


def test_the_level_is_a_run_tag():
    from pad_core.integrations.options import Resources, TrialPlan
    from pad_core.integrations.trial import run_tags

    plan = TrialPlan(sweep="s", stage="ablation", tracking_uri="", experiment="", parent_id="", storage_path="",
                     resources=Resources(), row="r")
    smoke = scale_overrides("smoke")
    assert run_tags(plan, from_flat(smoke), "t0", {})["pad.score_level"] == "frame"
    assert run_tags(plan, from_flat({**smoke, "eval.score_level": "video"}), "t0", {})["pad.score_level"] == "video"


def test_the_footnote_says_the_unit_per_protocol():
    spec = TableView("t", [("a", "A")], ["P1", "P2"], [0], ["acer"], {"a": "h"})
    frame = pd.DataFrame({"protocol": ["P1", "P2"], "test/p1/frames_per_video_min": [8.0, np.nan],
                          "test/p1/frames_per_video_max": [8.0, np.nan]})
    assert score_level_note(frame, spec) == " Scores: per video (mean of 8 frames) on P1; per frame on P2."
    assert score_level_note(frame[["protocol"]], spec) == " Scores: per frame."
    both = frame.assign(protocol="P1", **{"test/p1/frames_per_video_min": [8.0, 3.0],
                                          "test/p1/frames_per_video_max": [8.0, 8.0]})
    assert score_level_note(both, spec) == " Scores: per video (mean of 3–8 frames)."


# --- through training: a synthetic iris manifest whose frames are grouped into videos -------------------------------


def smoke_cfg(manifest: str = "", **extra) -> object:
    data = {"data.manifest": manifest} if manifest else {}
    return from_flat({**scale_overrides("smoke"), **VARIANTS.get("mmoe"), "train.steps": 2, "train.eval_every": 2,
                      **data, **extra})


@pytest.fixture(scope="module")
def video_manifest(tmp_path_factory) -> str:
    """The smoke iris manifest with a ``video`` column: up to 3 rows of one (subset, subject, label, species,
    split) form a video; the synthetic images are copied beside it."""
    from pad_core.data import resolve_manifest_uri

    source = resolve_manifest_uri(smoke_cfg().data)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    keys = ["subset", "subject", "label", "attack_type", "split"]
    chunk = frame.groupby(keys).cumcount() // 3
    frame["video"] = frame[keys].agg("/".join, axis=1) + "/v" + chunk.astype(str)
    path = tmp_path_factory.mktemp("video") / "manifest.csv"
    frame.to_csv(path, index=False)
    shutil.copytree(Path(source).parent / "images", path.parent / "images")  # a listing does not follow links
    return str(path)


def test_a_run_scored_per_video_reports_metrics_over_videos(video_manifest, tmp_path):
    from sklearn.metrics import roc_auc_score

    artifacts: list[str] = []
    metrics = train(smoke_cfg(video_manifest, **{"eval.score_level": "video"}),
                    RunContext(save_artifact=artifacts.append, workdir=str(tmp_path)))
    rows = pd.read_csv(artifacts[0]).query("split == 'test'")  # the row scores, with their videos
    manifest = pd.read_csv(video_manifest, dtype=str, keep_default_na=False).set_index("path")
    assert (rows["video"].to_numpy() == manifest.loc[rows["path"], "video"].to_numpy()).all()
    videos = rows.groupby("video").agg(score=("score", "mean"), label=("label", "first"), k=("score", "size"))
    assert metrics["test/p1/n"] == len(videos) < metrics["test/p1/n_frames"] == len(rows)
    assert metrics["test/p1/auc"] == pytest.approx(roc_auc_score(videos["label"], videos["score"]))
    assert (metrics["test/p1/frames_per_video_min"], metrics["test/p1/frames_per_video_max"]) == (
        videos["k"].min(), videos["k"].max())


def test_per_video_on_a_manifest_without_videos_is_refused_before_training(tmp_path):
    started = time.monotonic()
    with pytest.raises(DataError, match=r"eval.score_level='video': protocol P1 is scored per video, but the "
                                        r"manifest .* has no 'video' column.*Fix: import the videos"):
        TrainingRun(smoke_cfg(**{"eval.score_level": "video"}), RunContext(workdir=str(tmp_path)))
    assert time.monotonic() - started < 30


def test_per_video_without_videos_is_refused_on_the_command_line(store, capsys):
    from tests.refusals import refused

    started = time.monotonic()
    err = refused("mask_rates.py", ["--set", "eval.score_level=video"], store, capsys)
    print(f"\n[measure] refused 'per video without a video column' in {time.monotonic() - started:.2f} s")
    assert "eval.score_level='video'" in err and "has no 'video' column" in err and "Fix:" in err


def write_beside(frame: pd.DataFrame, video_manifest: str, name: str) -> str:
    path = Path(video_manifest).parent / f"{name}.csv"  # beside the manifest: the same images/ folder
    frame.to_csv(path, index=False)
    return str(path)


def test_a_video_in_two_splits_or_with_disagreeing_frames_is_refused_by_the_preflight(video_manifest):
    from pad_core.data import prepare

    frame = pd.read_csv(video_manifest, dtype=str, keep_default_na=False)
    facts = ["video", "subject", "subset", "label", "attack_type"]
    live = frame[(frame["split"] == "train") & (frame["label"] == "1")]
    video = live["video"].value_counts().index[0]  # a bona fide train video of several frames
    leaked = frame.copy()  # a test frame of the same recording
    leaked.loc[leaked.index[leaked["split"] == "test"][0], facts] = frame.loc[frame["video"] == video, facts].iloc[0]
    mixed = frame.copy()  # one frame of a bona fide video labelled as a print attack
    mixed.loc[frame.index[frame["video"] == video][0], ["label", "attack_type"]] = ["0", "print"]
    for name, bad, message in (
            ("leaked", leaked, r"protocol P1 leaks between its splits: 1 videos in both train and test, e.g. \['"
                               + re.escape(video) + r"'\].*allow_overlap=true"),
            ("mixed", mixed, r"1 videos have frames with different label, e.g. \['" + re.escape(video)
                             + r"'\].*1 videos have frames with different attack_type.*Fix: give every frame")):
        with pytest.raises(DataError, match=message):
            prepare(smoke_cfg(write_beside(bad, video_manifest, name)).data, check_files=False)


@pytest.fixture
def video_benchmark(tmp_path, monkeypatch) -> str:
    """``iris_video``: the irisgeneral protocols, declared to score per video (a copy of the definitions)."""
    import json

    from pad_core.data import protocols

    spec = json.loads((protocols.DEFS_DIR / "irisgeneral.json").read_text())
    shutil.copytree(protocols.DEFS_DIR, tmp_path / "defs")
    (tmp_path / "defs" / "iris_video.json").write_text(json.dumps({**spec, "benchmark": "iris_video",
                                                                   "score_level": "video"}))
    monkeypatch.setattr(protocols, "DEFS_DIR", tmp_path / "defs")
    protocols.load_benchmark.cache_clear()
    yield "iris_video"
    protocols.load_benchmark.cache_clear()


def test_a_protocol_declared_per_video_needs_video_ids(video_benchmark, video_manifest):
    from pad_core.data import prepare
    from pad_core.data.prepare import score_level

    run = smoke_cfg(video_manifest, **{"data.benchmark": video_benchmark})
    assert score_level(run, prepare(run.data, check_files=False)) == "video"
    frame = smoke_cfg(video_manifest, **{"data.benchmark": video_benchmark, "eval.score_level": "frame"})
    assert score_level(frame, prepare(frame.data, check_files=False)) == "frame"
    plain = smoke_cfg(**{"data.benchmark": video_benchmark})
    with pytest.raises(DataError, match=r"data.protocol='P1': protocol P1 is scored per video, but the manifest .* "
                                        r"has no 'video' column"):
        score_level(plain, prepare(plain.data, check_files=False))
    stills = pd.read_csv(video_manifest, dtype=str, keep_default_na=False).assign(video="")
    path = write_beside(stills, video_manifest, "stills")
    still_run = smoke_cfg(path, **{"data.benchmark": video_benchmark})
    with pytest.raises(DataError, match=r"none of its \d+ dev/test rows .* has a video id"):
        score_level(still_run, prepare(still_run.data, check_files=False))
