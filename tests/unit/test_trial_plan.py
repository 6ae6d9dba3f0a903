"""The plan a Tune trial gets, and the loop config its training gets, are typed values (integrations/options.py).

Earlier code put ``asdict(plan)`` into Tune's config and read it back by string key; a Tune experiment restored from
such state (a search resumed with ``Tuner.restore``) still carries those dicts, so ``TrialPlan.from_config`` takes
both forms.
"""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, asdict

import pytest

from pad_core.integrations.options import LoopConfig, Resources, TrialPlan


def a_plan(**extra) -> TrialPlan:
    return TrialPlan(sweep="s", stage="ablation", tracking_uri="http://127.0.0.1:5000", experiment="padsweep",
                     parent_id="p", storage_path="/tmp/x", resources=Resources(workers=2, gpus_per_worker=1.0),
                     flat={"optim.lr": 1e-3}, row="clip", key="clip|P1|s0", run_name="clip·P1·s0",
                     axes={"optim.lr": "0.001"}, identity="id", **{"data_version": "sha", **extra})


def test_the_plan_travels_as_itself_and_is_rebuilt_from_the_dict_earlier_code_wrote():
    plan = a_plan(keep_checkpoints=True)
    assert TrialPlan.from_config(plan) is plan
    assert TrialPlan.from_config(asdict(plan)) == plan  # the form written into Tune's config before issue 20
    older = {k: v for k, v in asdict(plan).items() if k not in ("keep_checkpoints", "data_version")}
    assert TrialPlan.from_config(older) == a_plan(data_version="")  # fields added since: their defaults
    assert pickle.loads(pickle.dumps(plan)) == plan  # Tune's experiment state and the trial actors pickle it


def test_a_plan_names_its_cell_and_run_like_the_driver_log_and_mlflow_do():
    assert a_plan().cell_key("t_00001") == "clip|P1|s0" and a_plan().run_label("t_00001") == "clip·P1·s0"
    search = TrialPlan(sweep="s", stage="search", tracking_uri="u", experiment="e", parent_id="p",
                       storage_path="/tmp/x", resources=Resources())
    assert search.cell_key("t_00001") == "search|t_00001" and search.run_label("t_00001") == "search·t_00001"


def test_a_misspelt_field_fails_where_it_is_written_not_in_a_remote_worker():
    plan = a_plan()
    with pytest.raises(AttributeError):
        plan.tracking_url  # noqa: B018 - the typo a dict would have turned into a KeyError in the worker
    with pytest.raises(FrozenInstanceError):
        plan.key = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        LoopConfig(flat={}, tracking_uri="u", run_id="r", storage_path="/tmp", sweep="s", key="k", fresh=True)
    loop = LoopConfig(flat={}, tracking_uri="u", run_id="r", storage_path="/tmp", sweep="s", key="k", fresh_run=True)
    assert pickle.loads(pickle.dumps(loop)) == loop  # Ray Train pickles train_loop_config to each worker


def test_the_loop_config_travels_in_the_dict_ray_train_types_its_train_loop_config_as():
    """Ray Train types ``train_loop_config`` as ``Optional[Dict]`` and validates it with pydantic when its state
    tracking is on (RAY_TRAIN_ENABLE_STATE_TRACKING=1): the dataclass itself would fail the controller's start."""
    from pydantic import TypeAdapter
    from ray.train.v2._internal.state.schema import RunSettings

    loop = LoopConfig(flat={"optim.lr": 1e-3}, tracking_uri="http://127.0.0.1:5000", run_id="r", storage_path="/tmp",
                      sweep="s", key="k")
    wrapped = TypeAdapter(RunSettings.model_fields["train_loop_config"].annotation).validate_python(
        loop.train_loop_config())
    assert LoopConfig.from_train_loop_config(pickle.loads(pickle.dumps(wrapped))) == loop


def test_the_plan_crosses_tune_as_plain_values_a_restored_tuner_can_hand_back():
    """Tune replaces every non-primitive object of a param space by an object-store placeholder (``ref_ph``), which a
    ``Tuner.restore`` cannot resolve: a resumed search handed its trials the placeholder, a tuple, instead of the plan.
    ``to_config`` is plain values only, so Tune keeps it as it is, and ``from_config`` rebuilds the dataclass."""
    from ray.tune.impl.placeholder import create_resolvers_map, inject_placeholders

    plan = TrialPlan(sweep="s", stage="ablation", tracking_uri="http://127.0.0.1:5000", experiment="e",
                     parent_id="p", storage_path="/tmp/x", resources=Resources(workers=2, gpus_per_worker=1.0),
                     flat={"moe.soft.mask_rates": (0.0, 0.1, 0.1, 0.1), "optim.lr": 1e-3}, key="k")
    carried = inject_placeholders({"plan": plan.to_config()}, create_resolvers_map())
    assert carried == {"plan": plan.to_config()}
    assert TrialPlan.from_config(carried["plan"]) == plan
    assert inject_placeholders({"plan": plan}, create_resolvers_map()) != {"plan": plan}  # what went wrong before
