"""The bad-input catalogue (docs/RELIABILITY.md): every case through a sweep file's real command line.

Each is refused with exit code 2 and a message that names the bad value and says how to fix it (``Fix:``),
before any trial starts: the Ray address given is unreachable on purpose, so a case that got past the
checks would fail differently. An MLflow store holding an earlier sweep is checked unchanged afterwards.
"""

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pad_core.ablation import Row
from pad_core.config import from_flat, scale_overrides
from pad_core.data import resolve_manifest_uri
from tests.refusals import ROOT, refused

NOOP_ROWS = (Row("clip", "CLIP", {}), Row("same", "changes nothing", {"loss.moe_cosine_w": 0.0}))
NOOP_BASE = {"data.protocol": "P1"}

CONFIG_CASES = [  # (sweep file, extra arguments, what the message must say)
    ("mask_rates.py", ["--set", "moe.soft.num_expert=4"], r"moe.soft.num_expert.*unknown config key.*did you mean"),
    ("mask_rates.py", ["--set", "optim.lr=fast"], r"optim.lr='fast'.*not a valid float"),
    ("mmoe_components.py", ["--set", "moe.soft.mask_rates=0,0.1"], r"2 rates for 4 experts"),
    ("mmoe_components.py", ["--set", "moe.soft.mask_rates=0,0.1,0.1,1.0"], r"rates \[1.0\] outside \[0, 1\)"),
    ("mmoe_components.py", ["--set", "moe.soft.mask_rates=0,-0.1,0.1,0.1"], r"rates \[-0.1\] outside \[0, 1\)"),
    ("mask_rates.py", ["--set", "moe.soft.mask_rates=0,0.2,0.2,0.2"], r"mask_rates.*every row.*changes nothing"),
    ("suede_experts.py", ["--set", "moe.sue.top_k=9"], r"moe.sue.top_k=9.*between 1 and num_routed"),
    ("moae_components.py", ["--set", "moe.moae.heads=3"], r"moe.moae.heads.*=3.*does not divide the width"),
    ("mask_rates.py", ["--set", "moe.layers=0,9"], r"blocks \[9\] outside 0..3"),
    ("suede_experts.py", ["--set", "moe.tower=text", "--set", "head.kind=linear"], r"moe.tower.*text tower is unused"),
    ("mask_rates.py", ["--set", "moe.kind=hard"], r"moe.kind='hard'.*allowed values"),
    ("mask_rates.py", ["--set", "optim.lr=-1"], r"optim.lr=-1.0.*must be > 0"),
    ("mask_rates.py", ["--set", "train.steps=0"], r"train.steps=0.*>= 1"),
    ("mask_rates.py", ["--set", "data.batch_size=1"], r"batch_size=1.*too small"),
    ("mask_rates.py", ["--protocols", "P9"], r"data.protocol.*P9.*not a protocol of irisgeneral"),
    ("mask_rates.py", ["--set", "data.benchmark=nope"], r"data.benchmark='nope'.*no protocol definitions"),
    ("mask_rates.py", ["--backbone", "ViT-Z-99"], r"ViT-Z-99.*unknown open_clip model"),
    ("mask_rates.py", ["--set", "train.precision=fp8"], r"precision='fp8'.*allowed values"),
    ("mask_rates.py", ["--set", "moe.soft.num_experts=0"], r"num_experts=0.*at least one expert"),
    ("suede_experts.py", ["--set", "loss.moe_cosine_w=1"], r"moe_cosine_w.*needs SoftMoE experts"),
    ("bigmoe_granularity.py", ["--set", "bigmoe.modality_drop=1.0"], r"modality_drop=1.0.*outside \[0, 1\)"),
    ("atr_dn.py", ["--set", "atr.n0=12"], r"atr.n0=12.*outside the 3..8"),
    ("bigmoe_granularity.py", ["--set", "bigmoe.peer_topk=50"], r"peer_topk=50.*keys per half"),
    ("mask_rates.py", ["--set", "loss.balance_w=-1"], r"balance_w=-1.0.*negative"),
    ("mask_rates.py", ["--set", "train.max_minutes=-1"], r"max_minutes=-1.0.*negative"),
    ("mask_rates.py", ["--workers-per-trial", "3"], r"batch_size=16.*not divisible by 3 workers"),
]
SWEEP_CASES = [
    ("rows.py", ["--rows", "search_spaces.nope:ROWS"], r"search_spaces.nope:ROWS.*cannot be imported"),
    ("rows.py", ["--baseline", "nope"], r"baseline='nope'.*not one of the rows"),
    ("rows.py", ["--rows", "tests.unit.test_bad_input:NOOP_ROWS", "--base", "tests.unit.test_bad_input:NOOP_BASE"],
     r"audit.*change nothing"),
    ("hpo.py", ["--objective", "test_eer"], r"test_eer.*only read dev metrics"),
    ("hpo.py", ["--space", "nope"], r"'nope'.*unknown search space"),
    ("hpo.py", ["--grace-period", "0"], r"--grace-period=0: must be >= 1.*at least 1 report"),
    ("hpo.py", ["--scheduler", "hyperband"], r"--scheduler='hyperband'.*unknown early-stopping.*asha.*sha"),
    ("mmoe_components.py", ["--mode", "search"], r"declares no search space"),
]
SERVICE_CASES = [
    ("mask_rates.py", ["--mlflow-uri", "http://127.0.0.1:9"], r"http://127.0.0.1:9.*no MLflow server answers"),
    ("mask_rates.py", ["--ray-address", "127.0.0.1:9"], r"127.0.0.1:9.*no Ray cluster answers"),
    ("mask_rates.py", ["--mlflow-uri", ""], r"no MLflow tracking server given.*MLFLOW_TRACKING_URI"),
    ("mask_rates.py", ["--tracking-outage", "-5"], r"--tracking-outage=-5.0.*negative.*Fix: give the seconds"),
]
DATA_CASES = [  # (how the good manifest is broken, what the message must say)
    (lambda f: f.drop(columns=["subject"]), r"missing columns \['subject'\]"),
    (lambda f: f.assign(label=f["label"].replace({"0": "maybe"})), r"unknown labels \['maybe'\]"),
    (lambda f: f.assign(label=f["label"].where(f["split"] != "test", "1")), r"test split of .* has only label 1"),
    (lambda f: f.assign(path=f["path"].where(f.index != 0, "images/missing.png")), r"1 image files are missing"),
    (lambda f: f.assign(path=f["path"].where(f.index != 0, "extra/truncated.png")),
     r"1 image files cannot be decoded.*extra/truncated.png.*on_corrupt=skip"),
    (lambda f: f.assign(path=f["path"].where(f.index != 0, "../outside.png")), r"paths outside the data folder"),
    (None, r"cannot read the manifest"),
]


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("file, args, message", CONFIG_CASES + SWEEP_CASES + SERVICE_CASES)
def test_refused_before_any_trial_with_value_and_fix(file, args, message, store, capsys):
    err = refused(file, args, store, capsys)  # a later --mlflow-uri in args overrides the store
    assert re.search(message, err, flags=re.IGNORECASE | re.DOTALL), err
    assert "Fix:" in err, err


@pytest.fixture(scope="module")
def good_manifest(tmp_path_factory) -> Path:
    """The smoke-scale synthetic iris manifest and its images, copied, plus a truncated PNG."""
    source = Path(resolve_manifest_uri(from_flat(scale_overrides("smoke")).data))
    folder = tmp_path_factory.mktemp("manifest")
    shutil.copytree(source.parent / "images", folder / "images")  # fsspec's listing does not follow links
    (folder / "extra").mkdir()
    (folder / "extra" / "truncated.png").write_bytes((source.parent / pd.read_csv(source)["path"][0]).read_bytes()[:60])
    shutil.copy(source, folder / "good.csv")
    return folder


@pytest.mark.parametrize("mutate, message", DATA_CASES)
def test_bad_manifests_are_refused_before_training(mutate, message, good_manifest, store, capsys, tmp_path):
    path = good_manifest / f"case_{tmp_path.name}.csv"
    if mutate is not None:
        mutate(pd.read_csv(good_manifest / "good.csv", dtype=str, keep_default_na=False)).to_csv(path, index=False)
    err = refused("mask_rates.py", ["--data", str(path)], store, capsys)
    assert re.search(message, err, flags=re.DOTALL), err
    assert "Fix:" in err and str(path) in err


def test_skip_policy_trains_without_the_corrupt_file_and_says_so(good_manifest):
    from pad_core.data import prepare

    frame = pd.read_csv(good_manifest / "good.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "path"] = "extra/truncated.png"
    frame.to_csv(good_manifest / "skip.csv", index=False)
    cfg = from_flat({**scale_overrides("smoke"), "data.manifest": str(good_manifest / "skip.csv"),
                     "data.on_corrupt": "skip"})
    data = prepare(cfg.data)
    assert data.skipped == ["extra/truncated.png"]
    assert "extra/truncated.png" not in set(pd.concat([data.train, data.dev, data.test])["path"])


def test_the_catalogue_has_at_least_thirty_cases():
    assert len(CONFIG_CASES + SWEEP_CASES + SERVICE_CASES + DATA_CASES) >= 30


def test_a_column_only_one_model_family_needs_is_refused_before_any_trial(store, capsys, tmp_path):
    """ATR-FAS reads a depth map per bona fide row (``path_depth``): a manifest without it passes the generic
    manifest checks, and its datasets are built in the preflight, so it is refused before launch (it used to fail
    in every trial)."""
    from search_spaces.atr_fas import ATR_BASE

    source = Path(resolve_manifest_uri(from_flat({**scale_overrides("smoke"), **ATR_BASE}).data))
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    assert "path_depth" in frame.columns
    shutil.copytree(source.parent / "images", tmp_path / "images")
    frame.drop(columns=["path_depth"]).to_csv(tmp_path / "no_depth.csv", index=False)
    err = refused("atr_dn.py", ["--data", str(tmp_path / "no_depth.csv")], store, capsys)
    assert re.search(r"no path_depth column", err), err
