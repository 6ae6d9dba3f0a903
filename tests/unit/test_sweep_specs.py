"""Sweep declarations: cells, validation before launch, search objectives restricted to dev metrics."""

import pytest

from pad_core.ablation import AblationSpec, Row
from pad_core.config import scale_overrides
from pad_core.errors import ConfigError, SweepError
from pad_core.integrations.search import SearchSpec
from search_spaces.mmoe import MASK_RATE_ROWS, MMOE_BASE, mask_rate_space


def spec(**kw) -> AblationSpec:
    args = dict(name="t", title="T", rows=MASK_RATE_ROWS, protocols=("P1", "P2"), seeds=(0, 1),
                base={**MMOE_BASE, **scale_overrides("smoke")})
    return AblationSpec(**{**args, **kw})


def test_cells_cover_rows_protocols_seeds_with_distinct_hashes_per_row():
    cells = spec().cells()
    assert len(cells) == 5 * 2 * 2
    hashes = {c.row.name: set() for c in cells}
    for c in cells:
        hashes[c.row.name].add(c.config_hash)
    assert all(len(h) == 1 for h in hashes.values())  # seed and protocol are not in the hash
    assert len({next(iter(h)) for h in hashes.values()}) == 5
    assert cells[0].cfg.moe.kind == "none" and cells[-1].cfg.moe.soft.mask_rates == (0.1, 0.1, 0.1, 0.1)


def test_a_bad_row_fails_before_anything_runs():
    with pytest.raises(ConfigError, match="row 'bad'.*mask_rates"):
        spec(rows=(Row("bad", "bad", {"moe.soft.mask_rates": (0.0, 0.1)}),)).cells()


def test_duplicate_rows_and_missing_axes():
    with pytest.raises(SweepError, match="repeat"):
        spec(rows=(MASK_RATE_ROWS[0], MASK_RATE_ROWS[0]))
    with pytest.raises(SweepError, match="rows, protocols and seeds"):
        spec(seeds=())


@pytest.mark.parametrize("metric", ["test/p1/eer", "test"])
def test_search_objective_must_be_a_dev_metric(metric):
    bad = SearchSpec(name="s", title="s", base=MMOE_BASE, space=mask_rate_space, protocol="P1", metric=metric)
    with pytest.raises(SweepError, match="only read dev metrics"):
        bad.validate()


class FakeTrial:
    def __init__(self):
        self.params = {}

    def suggest_float(self, name, low, high, log=False):
        self.params[name] = (low + high) / 2
        return self.params[name]


def test_mask_rate_space_keeps_expert0_fixed_unless_free():
    trial = FakeTrial()
    out = mask_rate_space(trial)
    assert out["moe.soft.mask_rates"][0] == 0.0 and "search.mask_rate_0" not in trial.params
    out = mask_rate_space(FakeTrial(), expert0_free=True)
    assert out["moe.soft.mask_rates"][0] == 0.3
