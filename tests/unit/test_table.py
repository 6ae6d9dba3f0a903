"""Tables from a tidy frame of runs: mean±std over seeds, declared rows only, missing seeds flagged."""

import json

import numpy as np
import pandas as pd

from pad_core.ablation.table import TableSpec, summarize, to_markdown, wide

SPEC = TableSpec(title="T", rows=[("clip", "vanilla CLIP"), ("rate1", "Rate 1")], protocols=["P1"], seeds=[0, 1],
                 metrics=["acer", "eer"], hashes={"clip": "h_clip", "rate1": "h_rate1"})


def run(row, seed, acer, eer, config_hash=None, protocol="P1"):
    return {"row": row, "protocol": protocol, "seed": seed, "config_hash": config_hash or f"h_{row}",
            f"test/{protocol.lower()}/acer": acer, f"test/{protocol.lower()}/eer": eer}


def test_mean_std_in_percent_and_declared_order():
    frame = pd.DataFrame([run("rate1", 0, 0.10, 0.12), run("rate1", 1, 0.20, 0.14), run("clip", 0, 0.30, 0.3),
                          run("clip", 1, 0.50, 0.3)])
    table = wide(summarize(frame, SPEC), SPEC)
    assert list(table.index) == ["vanilla CLIP", "Rate 1"]
    assert table.loc["Rate 1", "P1 ACER"] == f"15.00±{np.std([10, 20], ddof=1):.2f}"
    assert table.loc["vanilla CLIP", "P1 EER"] == "30.00±0.00"


def test_runs_of_other_configs_seeds_or_protocols_are_ignored_and_gaps_flagged():
    frame = pd.DataFrame([run("clip", 0, 0.3, 0.3), run("clip", 1, 0.5, 0.5, config_hash="stale"),
                          run("clip", 7, 0.9, 0.9), run("clip", 1, 0.9, 0.9, protocol="P2")])
    table = wide(summarize(frame, SPEC), SPEC)
    assert table.loc["vanilla CLIP", "P1 ACER"] == "30.00±0.00 (n=1/2)"
    assert table.loc["Rate 1", "P1 ACER"] == "—"
    md = to_markdown(table, "T")
    assert md.splitlines()[2] == "| Row | P1 ACER | P1 EER |"


def test_spec_round_trip_from_the_parent_tag():
    from pad_core.ablation import AblationSpec
    from pad_core.config import scale_overrides
    from search_spaces.mmoe import MASK_RATE_ROWS, MMOE_BASE

    spec = AblationSpec("s", "T5", MASK_RATE_ROWS, ("P1", "P2"), (0, 1), base={**MMOE_BASE, **scale_overrides("demo")})
    parsed = TableSpec.from_json(spec.describe())
    assert [r for r, _ in parsed.rows] == [r.name for r in MASK_RATE_ROWS]
    assert parsed.hashes == {c.row.name: c.config_hash for c in spec.cells()}
    assert json.loads(spec.describe())["rows"][1]["delta"] == {"moe.soft.mask_rates": "0.0,0.1,0.1,0.1"}
