"""A protocol whose train or test selector keeps a value (a member set, an attack category) with no row in that split
is refused, per split and value: the protocol would run on the rest and its table row would sit next to the paper's
numbers as if it were the paper's (a JFSFDB import lacks 3DMAD and HKBU-MARs; DFDC's training parts have no test
videos). ``data.allow_missing_values=true`` runs it, with the absent values in the notes. Every protocol of every
synthetic benchmark has all its values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from pad_core.config import DataCfg
from pad_core.data import checks, prepare, resolve_manifest_uri
from pad_core.data.protocols import Benchmark, Protocol, load_benchmark
from pad_core.errors import DataError

SMOKE = {"synth_scale": 0.01, "synth_size": 32}
SYNTHETIC = {"iris": "irisgeneral", "uniattack": "uniattackdata", "jfsfdb": "jfsfdb", "flash": "flash", "mmdg": "mmdg"}


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PADSWEEP_CACHE", str(tmp_path_factory.getbasetemp() / "synthetic-cache"))


@pytest.mark.parametrize("synthetic, benchmark", SYNTHETIC.items(), ids=list(SYNTHETIC))
def test_every_protocol_of_a_synthetic_benchmark_has_all_its_values(synthetic, benchmark):
    for name in load_benchmark(benchmark).protocols:
        data = prepare(DataCfg(manifest=f"synthetic:{synthetic}", benchmark=benchmark, protocol=name, **SMOKE),
                       check_files=False, verify_images=False)
        assert not [n for n in data.notes if "select no row" in n], (name, data.notes)


def jfsfdb_without(tmp_path, drop: dict[str, tuple[str, ...]]) -> str:
    """The smoke synthetic JFSFDB manifest without the rows of ``drop`` (split -> subsets), next to its images."""
    uri = resolve_manifest_uri(DataCfg(manifest="synthetic:jfsfdb", benchmark="jfsfdb", **SMOKE))
    frame = pd.read_csv(uri, dtype=str, keep_default_na=False)
    for split, subsets in drop.items():
        frame = frame[~((frame["split"] == split) & frame["subset"].isin(subsets))]
    out = tmp_path / "manifest.csv"
    frame.to_csv(out, index=False)
    for image_folder in (p for p in Path(uri).parent.iterdir() if p.is_dir()):
        (tmp_path / image_folder.name).symlink_to(image_folder, target_is_directory=True)
    return str(out)


@pytest.mark.parametrize("protocol, drop, expected", [
    ("joint.intra", {"train": ("3DMAD", "HKBU-MARs"), "test": ("3DMAD", "HKBU-MARs")},
     r"train: subset \['3DMAD', 'HKBU-MARs'\] .*; test: subset \['3DMAD', 'HKBU-MARs'\]"),
    ("joint.cross", {"test": ("DFDC",)}, r"test: subset \['DFDC'\] \(of \['3DMask', 'Celeb-DF', 'DFDC'"),
    ("joint.intra", {"test": ("FF++",)}, r"protocol joint.intra names .*test: subset \['FF\+\+'\]"),
], ids=["member sets the importer refuses", "DFDC without test videos", "one set's test part only"])
def test_a_protocol_missing_values_is_refused_per_split(tmp_path, protocol, drop, expected):
    uri = jfsfdb_without(tmp_path, drop)
    cfg = DataCfg(manifest=uri, benchmark="jfsfdb", protocol=protocol, **SMOKE)
    with pytest.raises(DataError, match=expected + r".*Fix: .*data.allow_missing_values=true"):
        prepare(cfg, check_files=False, verify_images=False)
    allowed = prepare(replace(cfg, allow_missing_values=True), check_files=False, verify_images=False)
    notes = [n for n in allowed.notes if "select no row" in n]
    assert len(notes) == 1 and "allow_missing_values=true" in notes[0]
    for split, subsets in drop.items():
        assert not set(allowed.split(split)["subset"]) & set(subsets)


def test_a_value_present_only_outside_the_selection_counts_as_absent():
    """Checked given the selector's other columns: a set whose train rows are all replay attacks adds nothing to a
    print-only training selector, though the set has rows."""
    train = {"subset": ["A", "B"], "attack_type": ["none", "print"]}
    protocol = Protocol("x", "b", train=train, test={"subset": ["A"]}, dev=train, threshold_policy="dev_eer")
    frame = pd.DataFrame({"subset": ["A", "A", "B", "A"], "attack_type": ["none", "print", "replay", "none"],
                          "split": ["train", "train", "train", "test"], "path": list("abcd")})
    parts = {s: frame[frame["split"] == s] for s in ("train", "dev", "test")}
    with pytest.raises(DataError, match=r"train: subset \['B'\] \(of \['A', 'B'\]\)"):
        checks.absent_values(frame, Benchmark("b", {"x": protocol}), protocol, parts, "m", allow=False)
    declared = Benchmark("b", {"x": protocol}, absent_by_design={"train": {"subset": ["B"]}})
    assert checks.absent_values(frame, declared, protocol, parts, "m", allow=False) == []
