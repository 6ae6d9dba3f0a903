"""Each sub-config states which of its keys a run reads (``reads(cfg)``, pad_core/config/reads.py); the audit, the
factory's freezing rule, the losses and the search spaces ask it. Here the statement is checked against what is
built: a key reported unread, changed, leaves the model's parameters, outputs and loss as they were; a key
reported read is one of the sub-config's fields."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import torch

from pad_core.audit.check import fixed_batch
from pad_core.audit.twin import on_twin
from pad_core.config import RunCfg, all_keys, from_flat, scale_overrides, to_flat
from pad_core.config.fieldcheck import type_hints
from pad_core.config.reads import read_keys, section_reads
from pad_core.engine.optim import lr_factor
from pad_core.errors import ConfigError
from pad_core.losses import total_loss
from pad_core.models import create_model
from pad_core.models.factory import check_shape_rules
from search_spaces.atr_fas import ATR_BASE, MIXING_ROWS
from search_spaces.bigmoe import BIGMOE_BASE, SYNERGY_ROWS
from search_spaces.mmoe import COMPONENT_ROWS as MMOE_ROWS
from search_spaces.mmoe import MMOE_BASE
from search_spaces.moae_cr import COMPONENT_ROWS as MOAE_ROWS
from search_spaces.moae_cr import LOSS_SWAP_ROWS, MOAE_BASE
from search_spaces.suede import EXPERT_SETTING_ROWS, SUEDE_BASE, TABLE1_ROWS

SMOKE = scale_overrides("smoke")
MODEL_SECTIONS = ("family", "backbone", "moe", "head", "loss", "bigmoe", "atr")  # what the model and loss read


def _rows(base, rows, names):
    by_name = {r.name: r for r in rows}
    return [(f"{names[0]}:{n}", {**base, **SMOKE, **by_name[n].delta}) for n in names[1:]]


# A representative row of every branch the rules take: MoE kinds (cosine loss on/off, SUE towers), class
# regularisation and each metric loss, prompt/linear heads and torchvision, BIG-MoE gates and CPB, ATR-FAS mixes.
ROWS = [
    *_rows(MMOE_BASE, MMOE_ROWS, ["mmoe", "clip", "s", "sml"]),
    *_rows(MOAE_BASE, MOAE_ROWS, ["moae", "moae", "moae_cr"]),
    *_rows(MOAE_BASE, LOSS_SWAP_ROWS, ["swap", "supcon", "triplet"]),
    *_rows(SUEDE_BASE, EXPERT_SETTING_ROWS, ["suede", "visual_sue", "both_sue"]),
    *_rows(SUEDE_BASE, TABLE1_ROWS, ["suede_t1", "resnet50"]),
    ("flip_v", {**SMOKE, "head.kind": "flip_v", "loss.cr_mode": "repaired", "loss.feature": "cls"}),
    *_rows(BIGMOE_BASE, SYNERGY_ROWS, ["bigmoe", "coarse", "fine_igma", "full"]),
    *_rows(ATR_BASE, MIXING_ROWS, ["atr", "single", "dgm"]),
]


def _sections(section, cfg, prefix=""):
    """(flat prefix, sub-config) of every config dataclass in the tree under ``section``."""
    yield prefix, section
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            yield from _sections(value, cfg, f"{prefix}{f.name}.")


@pytest.mark.parametrize(("name", "flat"), ROWS, ids=[r[0] for r in ROWS])
def test_every_sub_config_reads_only_its_own_fields(name, flat):
    cfg = from_flat(flat)
    for prefix, section in _sections(cfg, cfg):
        fields = {f.name for f in dataclasses.fields(section)}
        assert section.reads(cfg) <= fields, prefix
    assert read_keys(cfg) <= set(all_keys())
    assert all(section_reads(cfg, k) for k in read_keys(cfg))  # read at every level means read by its own section


def test_every_config_class_states_what_it_reads():
    """The registry of configs: every dataclass reachable from RunCfg has a rule (a new sub-config needs one)."""
    classes, todo = set(), [RunCfg]
    while todo:
        cls = todo.pop()
        classes.add(cls)
        todo += [h for h in type_hints(cls).values() if dataclasses.is_dataclass(h) and h not in classes]
    assert len(classes) == 14 and [c.__name__ for c in classes if not callable(getattr(c, "reads", None))] == []


def _alternatives(value, hint):
    """Candidate other values of a field, by its type (the first valid one is used)."""
    if typing.get_origin(hint) is typing.Literal:
        return [v for v in typing.get_args(hint) if v != value]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value + 2, value - 1, value * 2]
    if isinstance(value, float):
        return [value * 0.5, value + 0.1, 0.3]
    if isinstance(value, str):
        return ["all" if value != "all" else "later", "" if value else "openai"]
    if isinstance(value, tuple):
        return [("a photo of {} thing.",), ("spoof", "real"), (0.1,) * 4, ()]
    return []


def _hint(key):
    hint = RunCfg
    for part in key.split("."):
        hint = type_hints(hint)[part]
    return hint


def _change_unread(cfg: RunCfg, keys) -> tuple[RunCfg, list[str]]:
    """``cfg`` with every key in ``keys`` that can validly change set to another value; returns the keys changed."""
    flat, changed = to_flat(cfg), []
    for key in keys:
        for candidate in _alternatives(flat[key], _hint(key)):
            try:
                new = from_flat({key: candidate}, cfg)
                check_shape_rules(new)  # a value refused before any trial is not a run that could differ
            except ConfigError:
                continue
            cfg = new
            changed.append(key)
            break
    return cfg, changed


def _forward(cfg: RunCfg):
    torch.manual_seed(0)
    model = create_model(cfg).train()
    params = {n: (p.detach().clone(), p.requires_grad) for n, p in model.named_parameters()}
    inputs, targets = fixed_batch(cfg)
    torch.manual_seed(1)
    out = model(inputs)
    loss, terms = total_loss(out, targets, cfg.head.loss, cfg.loss)
    return params, out.logits.detach(), loss.detach(), sorted(terms)


@pytest.mark.parametrize(("name", "flat"), ROWS, ids=[r[0] for r in ROWS])
def test_changing_an_unread_key_changes_nothing_the_model_computes(name, flat):
    """Every unread key of the model's sections changed at once (where a value is valid): same parameters (and which
    train), same outputs, same loss and loss terms, on the audit twin and the audit's fixed batch."""
    cfg = on_twin(from_flat(flat))
    unread = [k for k in all_keys() if k.split(".")[0] in MODEL_SECTIONS and k not in read_keys(cfg)]
    other, changed = _change_unread(cfg, unread)
    assert changed, f"{name}: no unread key could be changed"
    before, after = _forward(cfg), _forward(other)
    assert before[0].keys() == after[0].keys() and before[3] == after[3], changed
    assert all(torch.equal(before[0][n][0], after[0][n][0]) and before[0][n][1] == after[0][n][1]
               for n in before[0]), changed
    assert torch.equal(before[1], after[1]) and torch.equal(before[2], after[2]), changed


@pytest.mark.parametrize("schedule", ["constant", "cosine", "exponential"])
def test_unread_schedule_settings_leave_the_learning_rates(schedule):
    cfg = from_flat({"optim.schedule": schedule, "optim.warmup_steps": 3, "train.steps": 50, "train.eval_every": 10})
    other, changed = _change_unread(cfg, [k for k in all_keys() if k.startswith("optim.") and k not in read_keys(cfg)])
    assert bool(changed) == (schedule != "exponential")
    rates = [[lr_factor(c.optim, c.train.steps)(s) for s in range(50)] for c in (cfg, other)]
    assert rates[0] == rates[1] and (changed or rates[0] != [1.0] * 50)


def test_the_search_spaces_draw_what_the_sub_configs_read():
    """moe.kind picks the section whose settings a space draws; class regularisation's weights, one expert
    granularity's settings: the rules the define-by-run spaces in search_spaces/hpo.py ask."""
    moae = from_flat({"moe.kind": "moae"})
    assert [k for k in ("soft", "moae", "sue") if section_reads(moae, f"moe.{k}")] == ["moae"]
    assert not section_reads(from_flat({}), "loss.dm_w")
    assert section_reads(from_flat({"loss.cr_mode": "repaired"}), "loss.dm_w")
    ffn = from_flat({"bigmoe.experts": "ffn"})
    assert section_reads(ffn, "bigmoe.ffn_experts") and not section_reads(ffn, "bigmoe.peer_keys")
