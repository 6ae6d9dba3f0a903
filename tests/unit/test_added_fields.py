"""Fields added to the config after runs were recorded keep every earlier config's hash (``schema.ADDED``)."""

from __future__ import annotations

import dataclasses

import pytest

from pad_core.config import RunCfg, config_hash, from_flat
from pad_core.config.flat import added_defaults, hashed_keys
from pad_core.config.schema import ADDED

# A value other than the default for every ADDED field (a new ADDED field must be listed here).
OFF_DEFAULT = {"backbone.imagenet_weights": "", "eval.score_level": "frame", "eval.threshold_placement": "midpoint"}


@pytest.mark.parametrize("key", sorted(added_defaults()))
def test_an_added_field_is_left_out_of_the_hash_at_its_default_only(key):
    assert key in OFF_DEFAULT, f"list a non-default value for the new ADDED field {key} in OFF_DEFAULT"
    assert key in hashed_keys()
    base = config_hash(RunCfg())
    assert config_hash(from_flat({key: OFF_DEFAULT[key]})) != base
    assert config_hash(from_flat({key: added_defaults()[key]})) == base


def test_the_hash_of_a_config_without_added_fields_is_what_it_was_before_they_existed():
    # 4b08db1c22e9 is RunCfg()'s hash at commit 2c0fe04, before any ADDED field: finished cells stay reusable.
    assert config_hash(RunCfg()) == "4b08db1c22e9"


@pytest.mark.parametrize("key", sorted(added_defaults()))
def test_added_fields_are_marked_added_in_the_schema(key):
    section, name = key.split(".")
    field = next(f for f in dataclasses.fields(type(getattr(RunCfg(), section))) if f.name == name)
    assert field.metadata == ADDED
