"""BIG-MoE and ATR-FAS rows: every row of the papers' tables and axes is a config delta that passes the audit."""

import pytest

from pad_core.ablation import AblationSpec
from pad_core.audit import audit_spec
from pad_core.audit.inactive import inactive_keys
from pad_core.config import from_flat, scale_overrides
from search_spaces import atr_fas, bigmoe

SMOKE = scale_overrides("smoke")
ROW_LISTS = {
    "atr_table3": (atr_fas.MIXING_ROWS, atr_fas.ATR_BASE, "dgm"),
    "atr_table4": (atr_fas.DN_ROWS, atr_fas.ATR_BASE, "dn"),
    "atr_n0": (atr_fas.N0_ROWS, atr_fas.ATR_BASE, "n0_5"),
    "big_granularity": (bigmoe.GRANULARITY_ROWS, bigmoe.BIGMOE_BASE, "peer"),
    "big_gate": (bigmoe.GATE_ROWS, bigmoe.BIGMOE_BASE, "isolated"),
    "big_cpb": (bigmoe.CPB_ROWS, bigmoe.BIGMOE_BASE, "cpb"),
    "big_synergy": (bigmoe.SYNERGY_ROWS, bigmoe.BIGMOE_BASE, "full"),
    "big_cdc": (bigmoe.CDC_ROWS, bigmoe.BIGMOE_BASE, "theta0.7"),
    "big_drop": (bigmoe.DROP_ROWS, bigmoe.BIGMOE_BASE, "drop0.3"),
    "big_wiring": (bigmoe.WIRING_ROWS, bigmoe.BIGMOE_BASE, "figure"),
}


@pytest.mark.parametrize("table", sorted(ROW_LISTS))
def test_rows_pass_the_audit(table):
    rows, base, baseline = ROW_LISTS[table]
    protocol = base["data.protocol"]
    spec = AblationSpec(table, table, rows, (protocol,), (0,), base={**base, **SMOKE}, baseline=baseline)
    assert audit_spec(spec) == []


def test_table3_covers_the_papers_ten_settings_and_paper_numbers():
    names = [r.name for r in atr_fas.MIXING_ROWS]
    assert len(names) == 10 and set(names) == set(atr_fas.PAPER["table3"])
    assert [r.name for r in atr_fas.DN_ROWS] == list(atr_fas.PAPER["table4"])
    assert [r.delta["atr.n0"] for r in atr_fas.N0_ROWS] == [3, 4, 5, 6, 7, 8]


def test_family_settings_are_inactive_elsewhere():
    clip = from_flat(SMOKE)
    assert inactive_keys(clip, ["atr.mix", "bigmoe.cpb", "loss.gate_w"]) == ["atr.mix", "bigmoe.cpb", "loss.gate_w"]
    atr = from_flat({**SMOKE, "family": "atr", "atr.mix": "avg"})
    assert inactive_keys(atr, ["loss.gate_w", "moe.kind", "atr.n0"]) == ["loss.gate_w", "moe.kind"]
    big = from_flat({**SMOKE, "family": "bigmoe"})
    assert inactive_keys(big, ["bigmoe.ffn_experts", "bigmoe.peer_keys"]) == ["bigmoe.ffn_experts"]
