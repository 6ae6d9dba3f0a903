"""Renamed option values (``hash_rules.renamed``): the behavioural name and the old, author-named one parse to the
same config and the same hash, which is the hash recorded runs carry; recorded MLflow params still parse."""

import dataclasses

import pytest

from pad_core.config import RunCfg, config_hash, from_flat, to_params
from pad_core.config.fieldcheck import type_hints
from pad_core.config.flat import renamed_fields
from pad_core.config.hash_rules import ALIASES
from pad_core.config.moe_schema import SoftMoECfg
from pad_core.errors import ConfigError

# old spelling -> (new name, the config hash of {moe.kind: soft, moe.soft.norm: old} computed by the code before
# the rename, commit 6875094)
NORMS = {"lucidrains": ("rms_both", "8bc0ddb7feab"), "puigcerver": ("l2_scale", "caf41a9c60ff")}


@pytest.mark.parametrize("old", NORMS)
def test_old_and_new_names_give_the_same_config_and_the_recorded_hash(old):
    new, recorded = NORMS[old]
    by_old, by_new = (from_flat({"moe.kind": "soft", "moe.soft.norm": v}) for v in (old, new))
    assert by_old == by_new and by_new.moe.soft.norm == new
    assert config_hash(by_old) == config_hash(by_new) == recorded


@pytest.mark.parametrize("old", NORMS)
def test_python_construction_takes_the_old_name_too(old):
    assert SoftMoECfg(norm=old) == SoftMoECfg(norm=NORMS[old][0])
    assert dataclasses.replace(SoftMoECfg(), norm=old).norm == NORMS[old][0]


def test_the_default_config_keeps_its_hash():
    assert RunCfg().moe.soft.norm == "rms_both"
    assert config_hash(RunCfg()) == "4b08db1c22e9"


@pytest.mark.parametrize("old", NORMS)
def test_params_recorded_with_the_old_name_parse(old):
    cfg = from_flat({"moe.kind": "soft", "moe.soft.norm": NORMS[old][0]})
    recorded = {**to_params(cfg), "moe.soft.norm": old}  # what an MLflow run logged before the rename
    assert from_flat(recorded) == cfg and config_hash(from_flat(recorded)) == NORMS[old][1]


def test_an_unknown_value_is_still_refused_with_the_new_names():
    with pytest.raises(ConfigError, match=r"moe\.soft\.norm='rms': not one of the allowed values.*l2_scale"):
        from_flat({"moe.soft.norm": "rms"})


@pytest.mark.parametrize("key", sorted(renamed_fields()))
def test_every_renamed_value_names_an_allowed_value_and_no_old_name_is_still_allowed(key):
    section, *rest = key.split(".")
    cls = type(getattr(RunCfg(), section))
    for part in rest[:-1]:
        cls = type_hints(cls)[part]
    allowed = set(type_hints(cls)[rest[-1]].__args__)
    aliases = renamed_fields()[key][ALIASES]
    assert set(aliases.values()) <= allowed and not set(aliases) & allowed
    assert len(set(aliases.values())) == len(aliases)  # one old spelling per value: the hash maps back uniquely


def test_a_hash_rule_condition_written_with_an_old_spelling_still_applies():
    """``changed(..., when={"moe.soft.norm": "lucidrains"})`` compares with the value a config holds (``rms_both``):
    a condition naming the old spelling must act on the configs it names, or their hashes would change silently."""
    import dataclasses

    from pad_core.config import flat
    from pad_core.config.hash_rules import changed

    @dataclasses.dataclass(frozen=True)
    class Probe:
        x: int = dataclasses.field(default=1, metadata=changed(0, when={"moe.soft.norm": "lucidrains"}))

    [(_, when, _)] = flat.legacy_rules(Probe).values()
    assert when == (("moe.soft.norm", "rms_both"),)


def test_the_legacy_value_of_a_renamed_field_is_compared_in_its_new_spelling():
    """A field both renamed and ``changed(legacy=<old spelling>)``: a config holding that behaviour (in the new
    spelling) asks for the legacy computation and must keep its hash."""
    import dataclasses
    from types import MappingProxyType

    from pad_core.config import flat
    from pad_core.config.hash_rules import changed, renamed

    metadata = MappingProxyType({**changed("lucidrains", when={}), **renamed(lucidrains="rms_both")})

    @dataclasses.dataclass(frozen=True)
    class Probe:
        norm: str = dataclasses.field(default="rms_both", metadata=metadata)

    [(legacy, _, _)] = flat.legacy_rules(Probe).values()
    assert legacy == "rms_both"
