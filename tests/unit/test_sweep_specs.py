"""Sweep declarations: cells, validation before launch, search objectives restricted to dev metrics."""

import pytest

from pad_core.ablation import AblationSpec, Row
from pad_core.ablation.search_spec import SearchSpec
from pad_core.config import scale_overrides
from pad_core.errors import ConfigError, SweepError
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


# Per-paper schedules: each method's base states its paper's schedule; what the paper does not give is a declared guess.
def _bases():
    from search_spaces import atr_fas, bigmoe, mmoe, moae_cr, suede

    return {"mmoe": mmoe.MMOE_BASE, "moae_cr": moae_cr.MOAE_BASE, "suede": suede.SUEDE_BASE,
            "bigmoe": bigmoe.BIGMOE_BASE, "atr_fas": atr_fas.ATR_BASE}


SCHEDULE_KEYS = ("optim.name", "optim.lr", "optim.weight_decay", "data.batch_size", "train.steps", "loss.cls_w")


@pytest.mark.parametrize("method", ["mmoe", "moae_cr", "suede", "bigmoe", "atr_fas"])
def test_every_paper_base_states_its_schedule_and_declares_its_guesses(method):
    base = _bases()[method]
    assert set(SCHEDULE_KEYS) <= set(base) or method == "bigmoe"  # BIG-MoE has no classification-loss weight
    assert {"optim.name", "optim.lr", "optim.weight_decay", "data.batch_size", "train.steps"} <= set(base)
    assert base.guessed and all(why.strip() for why in base.guessed.values())


def test_the_papers_own_schedule_values():
    bases = _bases()
    moae, atr, suede = bases["moae_cr"], bases["atr_fas"], bases["suede"]
    assert (moae["train.steps"], moae["data.batch_size"], moae["optim.weight_decay"]) == (300, 32, 5e-4)
    assert not {"train.steps", "optim.lr", "optim.weight_decay"} & set(moae.guessed)  # all three printed
    assert atr["data.batch_size"] == 4 and atr["train.steps"] == 64 * atr["optim.decay_steps"]
    assert {"optim.decay_gamma", "loss.depth_w"} <= set(atr.guessed) and "optim.lr" not in atr.guessed
    assert {"optim.lr", "loss.router_z_w", "loss.balance_w"} <= set(suede.guessed) and "optim.name" not in suede.guessed
    assert set(bases["bigmoe"].guessed) >= {"optim.name", "optim.lr", "data.batch_size", "train.steps"}
    assert bases["mmoe"]["optim.lr"] == 1e-6 and "optim.lr" not in bases["mmoe"].guessed


def test_stating_default_values_keeps_the_config_hashes_of_earlier_bases():
    """MMoE's and SUEDE's schedules were the defaults before they were written out: same configs, same hashes, so
    their finished cells stay reusable (MoAE-CR's 300 steps and ATR-FAS's batch 4 are new configs on purpose)."""
    from pad_core.config import config_hash, from_flat
    from pad_core.models.prompts import FLIP_ATTACK_PROMPTS, FLIP_LIVE_PROMPTS
    from pad_core.models.variants import VARIANTS
    from search_spaces.moae_cr import UNIATTACK

    bases = _bases()
    earlier = {"mmoe": dict(VARIANTS.get("mmoe")),
               "suede": {**UNIATTACK, "head.attack_prompts": FLIP_ATTACK_PROMPTS,
                         "head.live_prompts": FLIP_LIVE_PROMPTS}}
    for method, old in earlier.items():
        for scale in ("smoke", "demo", "paper"):
            assert config_hash(from_flat({**old, **scale_overrides(scale)})) == \
                config_hash(from_flat({**bases[method], **scale_overrides(scale)}))


def test_a_guess_must_name_a_key_the_base_sets():
    from pad_core.ablation.declare import PaperBase

    with pytest.raises(SweepError, match="guesses of keys the base does not set"):
        PaperBase({"optim.lr": 1e-6}, guessed={"train.steps": "not given"})


def test_a_guess_overridden_by_the_scale_or_set_is_no_longer_a_guess():
    from pad_core.ablation import AblationSpec
    from pad_core.sweep_args import SweepArgs
    from search_spaces.suede import SUEDE_BASE, TABLE1_ROWS

    sweep = AblationSpec(title="t", rows=TABLE1_ROWS, base=SUEDE_BASE, baseline="clip")

    def guesses(scale: str, **sets) -> dict:
        overrides = {**scale_overrides(scale), **{k.replace("__", "."): v for k, v in sets.items()}}
        return sweep.for_args(SweepArgs(name="t", overrides=overrides, scale=scale)).guesses

    assert {"optim.lr", "train.steps", "loss.balance_w"} <= set(guesses("paper"))
    assert "optim.lr" not in guesses("paper", optim__lr=3e-6)  # the user's value
    demo = guesses("demo")  # the demo scale sets its own lr and steps: those are not the paper's guesses
    assert "optim.lr" not in demo and "train.steps" not in demo and "loss.balance_w" in demo
