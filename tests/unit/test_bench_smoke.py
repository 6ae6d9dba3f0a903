"""Smoke test of the benchmarks in bench/: each runs with ``--quick`` and prints its tables with finite, positive
ratios. No timing threshold is checked anywhere (timings belong to bench/ and docs/BENCHMARKS.md)."""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ("moe_layers", "train_step", "loader", "gpu_throughput", "bootstrap", "disk_peak")


@pytest.fixture(scope="module")
def bench_modules():
    """Import the scripts as modules (one interpreter for all four, ~4 s of imports saved per script) and undo
    what their setup() changes (torch threads, the global RNG)."""
    added = str(REPO) not in sys.path
    if added:
        sys.path.insert(0, str(REPO))
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    try:
        yield {name: importlib.import_module(f"bench.{name}") for name in SCRIPTS}
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(rng)
        if added:
            sys.path.remove(str(REPO))


def run(module, tmp_path, capsys, *extra: str) -> tuple[str, dict]:
    out = tmp_path / f"{module.__name__.rsplit('.', 1)[-1]}.json"
    module.main(["--quick", "--json", str(out), *extra])
    return capsys.readouterr().out, json.loads(out.read_text())


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("|---")]


def positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def test_common_helpers(bench_modules):
    common = importlib.import_module("bench.common")
    s = common.spread([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (s.median, s.q1, s.q3, s.lo, s.hi, s.n) == (3.0, 2.0, 4.0, 1.0, 5.0, 5)
    assert common.md_table(["a", "b"], [[1, 0.5]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.5 |"]
    assert common.ratios([2.0, 6.0], [1.0, 3.0]) == [2.0, 2.0]
    assert {"cpu", "cores", "torch", "device"} <= set(common.machine())


def test_moe_layers(bench_modules, tmp_path, capsys):
    text, data = run(bench_modules["moe_layers"], tmp_path, capsys)
    labels = [label for label, *_ in bench_modules["moe_layers"].LAYERS.values()]
    rows = table_rows(text)
    assert all(any(row.startswith(f"| {label} |") for row in rows) for label in labels), rows
    assert "Machine: cpu" in text
    results = data["results"]
    assert [r["label"] for r in results] == labels
    for r in results:
        assert positive(r["ratio"]["median"]) and positive(r["flops"]), r
        assert abs(r["dense_flops"] / r["flops"] - 1) < 0.02, r  # the dense MLP is sized to equal FLOPs
        assert r["loop_free"].startswith("yes"), r  # no Python loop over experts or tokens


def test_train_step(bench_modules, tmp_path, capsys):
    text, data = run(bench_modules["train_step"], tmp_path, capsys)
    assert any(row.startswith("| mmoe / clip |") for row in table_rows(text))
    (ratio,) = data["ratios"]
    assert positive(ratio["time_ratio"]["median"]) and ratio["flop_ratio"] > 1
    assert set(data["models"]) == {"clip", "mmoe"}


def test_loader(bench_modules, tmp_path, capsys):
    text, data = run(bench_modules["loader"], tmp_path, capsys)
    rows = table_rows(text)
    for start in ("| clip (tiny", "| mmoe (tiny", "| num_workers=1 |", "| cached:", "| uncached:",
                  "| loader cores per GPU at the 2x goal |"):
        assert any(row.startswith(start) for row in rows), start
    step, cache, vitb = data["step"], data["cache"], data["vitb16"]
    assert positive(step["clip_ratio"]["median"]) and positive(step["mmoe_ratio"]["median"])
    assert positive(cache["speedup"]["median"]) and positive(vitb["cores_at_goal"])


def test_gpu_throughput_quick_runs_on_cpu(bench_modules, tmp_path, capsys):
    text, data = run(bench_modules["gpu_throughput"], tmp_path, capsys, "--device", "cpu")
    assert any(row.startswith("| mmoe / clip |") for row in table_rows(text))
    (ratio,) = data["ratios"]
    assert positive(ratio["img_s_ratio"]["median"]) and 0 < ratio["flop_ratio"] < 1
    assert data["size"] == "tiny"


def test_bootstrap(bench_modules, tmp_path, capsys):
    text, data = run(bench_modules["bootstrap"], tmp_path, capsys)
    rows = table_rows(text)
    for metric in ("acer", "eer", "auc"):
        assert any(row.startswith(f"| {metric}") for row in rows), metric
    assert data["loops"] and all(positive(loop["ratio"]["median"]) for loop in data["loops"].values())
    assert positive(data["draw_s"])


def test_disk_peak_runs_its_selection_and_reports_what_it_took(bench_modules, tmp_path, capsys):
    text, data = run(bench_modules["disk_peak"], tmp_path, capsys)
    assert data["exit"] == 0 and data["selection"] == ["tests/unit/test_scratch.py"]
    assert data["wall_s"] > 0 and all(math.isfinite(data[k]) for k in ("peak_gb", "left_gb"))
    assert len(table_rows(text)) == 2
