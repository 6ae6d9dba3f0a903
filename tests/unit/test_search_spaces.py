"""HPO spaces and their guards: every registered define-by-run space draws only valid configs with its
conditional parameters where they act; test-metric objectives, row-drawing spaces, cell axes and unknown
keys are refused before anything runs; Pareto ordering for multi-objective top-k."""

import functools

import pytest

from pad_core.ablation.search_spec import SearchSpec, check_objective, objective_key
from pad_core.config import scale_overrides
from pad_core.errors import SweepError
from pad_core.integrations.search_checks import check_space, probe
from pad_core.metrics.pareto import pareto_fronts, pareto_order
from search_spaces.hpo import SPACES


def spec_of(name: str, **kw) -> SearchSpec:
    chosen = SPACES.get(name)
    return SearchSpec(name="t", title="t", base={**chosen.base, **scale_overrides("smoke")},
                      space=functools.partial(chosen.space, lr_range=chosen.lr.demo), protocol=chosen.protocol, **kw)


@pytest.mark.parametrize("name", SPACES.list())
def test_every_space_draws_valid_configs(name):
    spec = spec_of(name)
    assert check_space(spec.space, spec.base, spec.protocol, 0) > 0


@pytest.mark.parametrize("name, parent, value, child", [
    ("moe", "moe.kind", "sue", "moe.sue.top_k"),
    ("moe", "moe.kind", "moae", "moe.moae.heads"),
    ("moae", "loss.cr_mode", "repaired", "loss.dm_w"),
    ("bigmoe", "bigmoe.experts", "peer", "bigmoe.peer_topk"),
    ("bigmoe", "bigmoe.experts", "ffn", "bigmoe.ffn_experts"),
])
def test_conditional_parameters_are_drawn_only_where_they_act(name, parent, value, child):
    draws = probe(spec_of(name).space)
    with_parent = [params for params, _, _ in draws if params[parent] == value]
    without = [params for params, _, _ in draws if params[parent] != value]
    assert with_parent and without
    assert all(child in p for p in with_parent) and not any(child in p for p in without)


@pytest.mark.parametrize("metric", ["test_eer", "test/p1/eer", "dev/p1/eer"])
def test_objectives_that_are_not_plain_dev_metrics_are_refused(metric):
    with pytest.raises(SweepError, match="only read dev metrics"):
        check_objective(metric, "min")
    with pytest.raises(SweepError, match="only read dev metrics"):
        spec_of("suede", metric=metric).validate()


def test_step_time_is_a_train_cost_objective_and_a_second_objective_is_checked_too():
    assert objective_key("P1", "step_seconds") == "train/p1/step_seconds"
    assert objective_key("P1", "eer") == "dev/p1/eer"
    with pytest.raises(SweepError, match="test_auc"):
        spec_of("suede", also=(("test_auc", "max"),)).validate()
    assert [k for k, _ in spec_of("suede", also=(("step_seconds", "min"),)).objectives] == [
        "dev/p1/eer", "train/p1/step_seconds"]


def _rows_space(trial):
    trial.suggest_categorical("search.which", ["clip", "rate1", "rate2"])
    return {}


def _seed_space(trial):
    trial.suggest_int("train.seed", 0, 3)
    return {}


def _unknown_space(trial):
    trial.suggest_float("optim.learning_rate", 1e-4, 1e-3)
    return {}


def _bad_heads_space(trial):
    trial.suggest_categorical("moe.moae.heads", [3, 5])
    return {}


@pytest.mark.parametrize("space, rows, match", [
    (_rows_space, ("clip", "rate1", "rate2"), "draws ablation rows.*walk rows as a grid"),
    (_seed_space, (), "train.seed.*defines a cell"),
    (_unknown_space, (), "optim.learning_rate.*not a config key"),
    (_bad_heads_space, (), "moe.moae.heads.*does not divide the width"),
])
def test_bad_spaces_are_refused_before_any_trial(space, rows, match):
    base = {**SPACES.get("moae").base, **scale_overrides("smoke")}
    with pytest.raises(SweepError, match=match):
        check_space(space, base, "P1", 0, rows)


def test_pareto_fronts_and_order():
    points = [(0.10, 2.0), (0.20, 1.0), (0.15, 3.0), (0.30, 0.5), (0.25, 1.5)]
    assert pareto_fronts(points, ["min", "min"]) == [0, 0, 1, 0, 1]
    assert pareto_order(points, ["min", "min"]) == [0, 1, 3, 2, 4]
    assert pareto_order([(0.9,), (0.95,), (0.8,)], ["max"]) == [1, 0, 2]


@pytest.mark.parametrize("flags, match", [
    (["--objective", "test_eer"], "only read dev metrics"),
    (["--also", "test_auc:max"], "test_auc"),
    (["--also", "step_seconds"], "--also='step_seconds': needs metric:mode"),  # refused while parsing (sweep_args)
    (["--space", "nope"], "unknown search space"),
])
def test_hpo_file_refuses_before_contacting_anything(flags, match):
    """Exit 2 with the reason, and nothing contacted: the MLflow address given does not exist."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, str(root / "sweeps/hpo.py"), "--smoke-test", "--mlflow-uri",
                           "http://127.0.0.1:9", *flags], capture_output=True, text=True, timeout=120, cwd=root)
    assert proc.returncode == 2 and match in proc.stderr, proc.stderr


def test_mask_rate_search_keeps_expert0_as_the_reference_unless_freed():
    """sweeps/mask_rates.py --mode search: per-expert rates in [0, 0.6], expert 0 unmasked by default, lr drawn."""
    from search_spaces.mmoe import mask_rate_space

    for expert0_free in (False, True):
        space = functools.partial(mask_rate_space, expert0_free=expert0_free)
        for params, _, constants in probe(space):
            rates = constants["moe.soft.mask_rates"]
            assert len(rates) == 4 and all(0 <= r <= 0.6 for r in rates)
            assert expert0_free or rates[0] == 0.0
            assert ("search.mask_rate_0" in params) == expert0_free and 3e-4 <= params["optim.lr"] <= 3e-3


def test_mask_rates_file_declares_a_valid_search():
    import importlib.util
    from pathlib import Path

    from pad_core.sweep_args import SweepArgs

    path = Path(__file__).resolve().parents[2] / "sweeps" / "mask_rates.py"
    spec = importlib.util.spec_from_file_location("mask_rates", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = SweepArgs(name="t", smoke_test=True, scale="demo", overrides=scale_overrides("smoke"),
                     own=module.Flags(expert0="fixed"))
    search = module.get_search(args)
    search.validate()  # dry-samples the space: valid configs, dev objective
    assert (search.objective, search.num_samples, search.top_k, search.confirm_seeds) == ("dev/p1/eer", 4, 1, (100,))
