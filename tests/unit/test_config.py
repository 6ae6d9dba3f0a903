"""Config: flat <-> nested round trip, strict validation with fixes, stable hashing."""

import dataclasses
import os
import subprocess
import sys

import pytest

from pad_core.config import (
    RunCfg,
    SoftMoECfg,
    all_keys,
    config_hash,
    diff,
    from_flat,
    parse_assignments,
    scale_overrides,
    to_flat,
    to_params,
)
from pad_core.errors import ConfigError


def test_flat_round_trip_python_values():
    cfg = from_flat({**scale_overrides("demo"), "moe.kind": "soft", "moe.soft.mask_rates": (0.0, 0.1, 0.2, 0.3)})
    assert from_flat(to_flat(cfg)) == cfg


def test_flat_round_trip_through_mlflow_param_strings():
    cfg = from_flat({"moe.kind": "soft", "moe.layers": (0, 3, 5), "moe.soft.mask_rates": (0.0, 0.1, 0.1, 0.1),
                     "head.templates": ("a {} eye", "the {} iris"), "backbone.train_text": False})
    assert from_flat(to_params(cfg)) == cfg


def test_every_field_has_a_default_and_every_key_is_reachable():
    keys = all_keys()
    assert len(keys) == len(set(keys)) > 40
    for key in keys:
        assert key in to_flat(RunCfg())


def test_unknown_key_names_close_matches():
    with pytest.raises(ConfigError, match=r"moe\.soft\.num_experts"):
        from_flat({"moe.soft.num_expert": 8})


@pytest.mark.parametrize(
    ("flat", "fragment"),
    [
        ({"optim.lr": "fast"}, "optim.lr='fast'.*float"),
        ({"optim.lr": -1.0}, "optim.lr=-1.0.*> 0"),
        ({"moe.kind": "sparse"}, "moe.kind='sparse'.*allowed"),
        ({"moe.soft.mask_rates": (0.0, 0.1)}, "2 rates for 4 experts"),
        ({"moe.soft.mask_rates": (0.0, 1.0, 0.1, 0.1)}, r"outside \[0, 1\)"),
        ({"moe.soft.cosine_ref": 4}, "no such expert"),
        ({"moe.layers": "late"}, "unknown layer preset"),
        ({"moe.layers": (1, 1)}, "repeated block"),
        ({"train.steps": 0}, "train.steps=0"),
        ({"loss.moe_cosine_w": 1.0}, "needs SoftMoE"),
        ({"head.templates": ("no placeholder",)}, "exactly one"),
        ({"data.batch_size": 1}, "data.batch_size=1"),
        ({"train.steps": "ten"}, "not a valid int"),
        ({"backbone.train_text": "maybe"}, "not a boolean"),
    ],
)
def test_validation_names_value_and_fix(flat, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        from_flat(flat)
    assert "Fix:" in str(info.value)


def test_direct_construction_is_validated_too():
    with pytest.raises(ConfigError, match="num_experts"):
        SoftMoECfg(num_experts=0)
    with pytest.raises(ConfigError, match="expected a sequence"):
        SoftMoECfg(mask_rates=0.1)  # type: ignore[arg-type]


def test_hash_ignores_seed_protocol_and_runtime_fields_only():
    base = RunCfg()
    same = from_flat({"train.seed": 7, "data.protocol": "P2", "data.num_workers": 4, "eval.batch_size": 8})
    assert config_hash(base) == config_hash(same)
    assert config_hash(base) != config_hash(from_flat({"optim.lr": 2e-6}))
    assert len(config_hash(base)) == 12


def test_hash_is_stable_across_processes_and_string_round_trips():
    cfg = from_flat({"moe.kind": "soft", "moe.soft.mask_rates": (0.0, 0.1, 0.1, 0.1), "loss.moe_cosine_w": 1.0})
    code = ("from pad_core.config import from_flat, config_hash; print(config_hash(from_flat("
            "{'loss.moe_cosine_w': 1.0, 'moe.soft.mask_rates': (0.0, 0.1, 0.1, 0.1), 'moe.kind': 'soft'})))")
    hashes = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip() for seed in (1, 2)}
    assert hashes == {config_hash(cfg)} == {config_hash(from_flat(to_params(cfg)))}


def test_diff_and_assignments():
    a = RunCfg()
    b = from_flat(parse_assignments(["optim.lr=1e-3", "moe.kind=soft"]))
    assert diff(a, b) == {"optim.lr": (1e-6, 1e-3), "moe.kind": ("none", "soft")}
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments(["optim.lr"])


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunCfg().optim.lr = 1.0  # type: ignore[misc]
