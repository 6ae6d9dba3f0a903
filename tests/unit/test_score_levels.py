"""Frame-level and video-level test metrics from the same row scores, each level with its own threshold.

Expected values are worked out by hand in the comments (conventions of pad_core.metrics.pad: live iff s >= tau;
the EER threshold minimises |FA * N_live - FR * N_attack|). Through training: the headline keys stay at the run's
level, the ``frame_``/``video_`` keys appear only when the test rows come from videos, and ``scores.csv`` carries
each row's subject.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from pad_core.config import from_flat, scale_overrides
from pad_core.config.schema import EvalCfg
from pad_core.engine import RunContext, train
from pad_core.engine.evaluate import both_levels
from pad_core.metrics.report import curve_key, final_key, level_key
from pad_core.models.variants import VARIANTS

# (video, label, attack type, score); "" = a still image, a video of one frame
DEV = [("D1", 1, "none", 0.9), ("E1", 0, "print", 0.2), ("D1", 1, "none", 0.35), ("D2", 1, "none", 0.8),
       ("E2", 0, "replay", 0.1), ("D2", 1, "none", 0.6), ("E1", 0, "print", 0.4), ("E2", 0, "replay", 0.65)]
# dev per frame: live .35 .6 .8 .9, attack .1 .2 .4 .65: at tau .6 FA 1 (.65), FR 1 (.35), gap 0 (only there)
# dev per video: live D1 .625, D2 .7, attack E1 .3, E2 .375: separable, tau .625 (FA 0, FR 0)
TEST = [("L1", 1, "none", 0.9), ("A1", 0, "print", 0.1), ("L1", 1, "none", 0.2), ("L2", 1, "none", 0.6),
        ("A2", 0, "replay", 0.3), ("L2", 1, "none", 0.62), ("", 1, "none", 0.45), ("A1", 0, "print", 0.8),
        ("A2", 0, "replay", 0.4)]
# test per video: live L1 .55, L2 .61, still .45; attack A1 .45 (print), A2 .35 (replay)


def split(rows: list) -> tuple[pd.DataFrame, object]:
    frame = pd.DataFrame(rows, columns=["video", "label", "attack_type", "score"])
    return frame, frame["score"].to_numpy()


EXPECTED = {  # policy -> level -> (threshold, apcer, bpcer, n)
    # tau .5. frames: live .2 .45 rejected (2/5), attack .8 accepted (1/4); videos: live .45 rejected (1/3), none of
    # the attacks (.45, .35) accepted
    "fixed": {"frame": (0.5, 1 / 4, 2 / 5, 9), "video": (0.5, 0.0, 1 / 3, 5)},
    # frames at dev's frame tau .6: live .2 .45 rejected, attack .8 accepted; videos at dev's video tau .625: all three
    # live videos rejected (at the frame tau .6, L2 .61 would pass: BPCER 2/3)
    "dev_eer": {"frame": (0.6, 1 / 4, 2 / 5, 9), "video": (0.625, 0.0, 1.0, 5)},
    # test frames: live .2 .45 .6 .62 .9 (5), attack .1 .3 .4 .8 (4): at .45 FA 1, FR 1, gap |5 - 4| = 1, the least;
    # test videos: live .45 .55 .61 (3), attack .35 .45 (2): at .55 FA 0, FR 1, gap 2 (.45: 3, .61: 4)
    "test_eer": {"frame": (0.45, 1 / 4, 1 / 5, 9), "video": (0.55, 0.0, 1 / 3, 5)},
}


@pytest.mark.parametrize("policy", list(EXPECTED))
def test_each_level_counts_its_own_units_with_its_own_threshold(policy):
    metrics = both_levels("P1", split(DEV), split(TEST), policy, EvalCfg(fixed_threshold=0.5))
    for level, (tau, apcer, bpcer, n) in EXPECTED[policy].items():
        got = {m: metrics[f"test/p1/{level}_{m}"] for m in ("threshold", "apcer", "bpcer", "acer", "n")}
        assert got == pytest.approx({"threshold": tau, "apcer": apcer, "bpcer": bpcer, "acer": (apcer + bpcer) / 2,
                                     "n": n}), level
    assert metrics["test/p1/video_n_frames"] == 9 and "test/p1/frame_n_frames" not in metrics
    assert not any(k.startswith(("dev/", "train/")) for k in metrics)  # test only


def test_no_level_keys_without_videos():
    frame, scores = split(TEST)
    assert both_levels("P1", (frame, scores), (frame.drop(columns="video"), scores), "fixed", EvalCfg()) == {}
    stills = frame.assign(video="")
    assert both_levels("P1", (stills, scores), (stills, scores), "dev_eer", EvalCfg()) == {}


def test_level_keys_are_final_test_names():
    key = level_key("test/p1/acer", "video")
    assert key == "test/p1/video_acer" and final_key(key) == key and curve_key(key) is None


# --- through training (tiny CLIP, 2 steps) ------------------------------------------------------------------------


def smoke_cfg(manifest: str = "", **extra):
    data = {"data.manifest": manifest} if manifest else {}
    return from_flat({**scale_overrides("smoke"), **VARIANTS.get("mmoe"), "train.steps": 2, "train.eval_every": 2,
                      **data, **extra})


@pytest.fixture(scope="module")
def video_manifest(tmp_path_factory) -> str:
    """The smoke iris manifest with a ``video`` column: up to 3 rows of one (subset, subject, label, species, split)
    form a video."""
    from pad_core.data import resolve_manifest_uri

    source = resolve_manifest_uri(smoke_cfg().data)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    keys = ["subset", "subject", "label", "attack_type", "split"]
    frame["video"] = frame[keys].agg("/".join, axis=1) + "/v" + (frame.groupby(keys).cumcount() // 3).astype(str)
    path = tmp_path_factory.mktemp("video") / "manifest.csv"
    frame.to_csv(path, index=False)
    shutil.copytree(Path(source).parent / "images", path.parent / "images")
    return str(path)


def run(cfg, tmp_path) -> tuple[dict[str, float], pd.DataFrame]:
    artifacts: list[str] = []
    metrics = train(cfg, RunContext(save_artifact=artifacts.append, workdir=str(tmp_path)))
    return metrics, pd.read_csv(artifacts[0], dtype={"subject": str}, keep_default_na=False)


def level_metrics(metrics: dict[str, float], level: str) -> dict[str, float]:
    prefix = f"test/p1/{level}_"
    return {f"test/p1/{k[len(prefix):]}": v for k, v in metrics.items() if k.startswith(prefix)}


@pytest.mark.parametrize("level", ["frame", "video"])
def test_a_run_on_videos_logs_both_levels_and_keeps_its_headline(level, video_manifest, tmp_path, one_thread):
    metrics, scores = run(smoke_cfg(video_manifest, **{"eval.score_level": level}), tmp_path)
    own, other = level_metrics(metrics, level), level_metrics(metrics, {"frame": "video", "video": "frame"}[level])
    assert own == {k: metrics[k] for k in own}  # the headline is the run's own level, unchanged
    test_rows = scores.query("split == 'test'")
    videos = test_rows["video"].nunique() if "video" in scores else None
    counts = {"frame": len(test_rows), "video": videos}
    assert level_metrics(metrics, "frame")["test/p1/n"] == len(test_rows)
    assert level_metrics(metrics, "video")["test/p1/n"] < len(test_rows)
    assert metrics["test/p1/n"] == counts[level] and other["test/p1/n"] != metrics["test/p1/n"]
    manifest = pd.read_csv(video_manifest, dtype=str, keep_default_na=False).set_index("path")
    assert (scores["subject"].to_numpy() == manifest.loc[scores["path"], "subject"].to_numpy()).all()


def test_a_run_without_videos_logs_no_level_keys_and_writes_subjects(tmp_path, one_thread):
    metrics, scores = run(smoke_cfg(), tmp_path)
    assert not [k for k in metrics if "/frame_" in k or "/video_" in k]
    assert {"path", "subset", "device", "attack_type", "label", "split", "score", "subject"} <= set(scores.columns)
    assert (scores["subject"] != "").all()
