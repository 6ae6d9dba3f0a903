"""Sweeps recorded by earlier code still render: the ``pad.spec`` JSON that ``AblationSpec.describe()`` wrote before
the declaration types were merged (issue 20: GridSweep + AblationSpec -> AblationSpec, TableSpec -> TableView) parses
into the render view, and the declarations of today still record exactly that JSON.

The literals below were captured from the sweep files' ``describe()`` before the change (demo scale; mask_rates at
the smoke scale): a crossed grid (MoAE-CR Table 5), protocol groups with paper numbers (MoAE-CR Table 2), and a file
whose smoke rows differ from the default pick (MMoE Table 5).
"""

import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from pad_core.ablation import AblationSpec, TableView
from pad_core.ablation.search_spec import FULL_SEARCH, SMOKE_SEARCH
from pad_core.ablation.view import GridLayout
from pad_core.config import scale_overrides
from pad_core.errors import SweepError
from pad_core.sweep_args import SweepArgs

ROOT = Path(__file__).resolve().parents[2]

MOAE_GRID_DEMO = (
    "{\"name\":\"moae_grid-demo\",\"title\":\"MoAE-CR Table 5: experts x "
    "heads\",\"rows\":[{\"name\":\"e2h2\",\"label\":\"2 experts, 2 heads\",\"delta\":{\"moe.kind\":\"mo"
    "ae\",\"loss.cr_mode\":\"repaired\",\"moe.moae.num_experts\":\"2\",\"moe.moae.heads\":\"2\"},\"ha"
    "sh\":\"eab4bf62a5c7\"},{\"name\":\"e2h4\",\"label\":\"2 experts, 4 heads\",\"delta\":{\"moe.kind"
    "\":\"moae\",\"loss.cr_mode\":\"repaired\",\"moe.moae.num_experts\":\"2\",\"moe.moae.heads\":\"4\""
    "},\"hash\":\"01c110396027\"},{\"name\":\"e2h8\",\"label\":\"2 experts, 8 heads\",\"delta\":{\"moe"
    ".kind\":\"moae\",\"loss.cr_mode\":\"repaired\",\"moe.moae.num_experts\":\"2\",\"moe.moae.heads"
    "\":\"8\"},\"hash\":\"272f624002cc\"},{\"name\":\"e4h2\",\"label\":\"4 experts, 2 heads\",\"delta\":"
    "{\"moe.kind\":\"moae\",\"loss.cr_mode\":\"repaired\",\"moe.moae.num_experts\":\"4\",\"moe.moae."
    "heads\":\"2\"},\"hash\":\"94ce8166cade\"},{\"name\":\"e4h4\",\"label\":\"4 experts, 4 heads\",\"de"
    "lta\":{\"moe.kind\":\"moae\",\"loss.cr_mode\":\"repaired\",\"moe.moae.num_experts\":\"4\",\"moe."
    "moae.heads\":\"4\"},\"hash\":\"d3af854de853\"},{\"name\":\"e4h8\",\"label\":\"4 experts, 8 heads"
    "\",\"delta\":{\"moe.kind\":\"moae\",\"loss.cr_mode\":\"repaired\",\"moe.moae.num_experts\":\"4\","
    "\"moe.moae.heads\":\"8\"},\"hash\":\"1e782ea6f45d\"},{\"name\":\"e8h2\",\"label\":\"8 experts, 2 "
    "heads\",\"delta\":{\"moe.kind\":\"moae\",\"loss.cr_mode\":\"repaired\",\"moe.moae.num_experts\""
    ":\"8\",\"moe.moae.heads\":\"2\"},\"hash\":\"cdb3c64cb463\"},{\"name\":\"e8h4\",\"label\":\"8 "
    "experts, 4 heads\",\"delta\":{\"moe.kind\":\"moae\",\"loss.cr_mode\":\"repaired\",\"moe.moae.n"
    "um_experts\":\"8\",\"moe.moae.heads\":\"4\"},\"hash\":\"0a4a1dc619e0\"},{\"name\":\"e8h8\",\"label"
    "\":\"8 experts, 8 heads\",\"delta\":{\"moe.kind\":\"moae\",\"loss.cr_mode\":\"repaired\",\"moe.m"
    "oae.num_experts\":\"8\",\"moe.moae.heads\":\"8\"},\"hash\":\"9687f5c122df\"}],\"protocols\":[\"P"
    "1\"],\"seeds\":[0,1],\"baseline\":\"e4h2\",\"metrics\":[\"acer\",\"acc\",\"auc\"],\"groups\":{},\"gr"
    "id\":{\"axes\":[\"moe.moae.num_experts\",\"moe.moae.heads\"],\"at\":{\"e2h2\":[\"2\",\"2\"],\"e2h4"
    "\":[\"2\",\"4\"],\"e2h8\":[\"2\",\"8\"],\"e4h2\":[\"4\",\"2\"],\"e4h4\":[\"4\",\"4\"],\"e4h8\":[\"4\",\"8\"],\"e"
    "8h2\":[\"8\",\"2\"],\"e8h4\":[\"8\",\"4\"],\"e8h8\":[\"8\",\"8\"]}},\"paper\":{\"e2h2\":{\"P1 "
    "ACER\":0.9},\"e2h4\":{\"P1 ACER\":0.41},\"e2h8\":{\"P1 ACER\":0.71},\"e4h2\":{\"P1 "
    "ACER\":0.37},\"e4h4\":{\"P1 ACER\":0.41},\"e4h8\":{\"P1 ACER\":0.52},\"e8h2\":{\"P1 "
    "ACER\":0.67},\"e8h4\":{\"P1 ACER\":1.09},\"e8h8\":{\"P1 ACER\":1.6}}}"
)

MOAE_LOSS_SWAP_DEMO = (
    "{\"name\":\"moae_loss_swap-demo\",\"title\":\"MoAE-CR Table 2: loss swap\",\"rows\":[{\"name\":\"supcon\","
    "\"label\":\"SupContrastive\",\"delta\":{\"moe.kind\":\"moae\",\"loss.metric\":\"supcon\"},\"hash\":\"c8383dbc"
    "afef\"},{\"name\":\"npair\",\"label\":\"N-pair\",\"delta\":{\"moe.kind\":\"moae\",\"loss.metric\":\"npair\"},\"h"
    "ash\":\"7341762477b4\"},{\"name\":\"triplet\",\"label\":\"Triplet\",\"delta\":{\"moe.kind\":\"moae\",\"loss.me"
    "tric\":\"triplet\"},\"hash\":\"f0a92d57f8bb\"},{\"name\":\"hard_triplet\",\"label\":\"Hard Triplet\",\"delta"
    "\":{\"moe.kind\":\"moae\",\"loss.metric\":\"hard_triplet\"},\"hash\":\"9e14179acdee\"},{\"name\":\"moae_cr\","
    "\"label\":\"MoAE-CR\",\"delta\":{\"moe.kind\":\"moae\",\"loss.cr_mode\":\"repaired\"},\"hash\":\"94ce8166cade"
    "\"}],\"protocols\":[\"P1\",\"P2.1\",\"P2.2\"],\"seeds\":[0,1],\"baseline\":\"moae_cr\",\"metrics\":[\"acer\",\"a"
    "cc\",\"auc\",\"eer\"],\"groups\":{\"P2\":[\"P2.1\",\"P2.2\"]},\"paper\":{\"supcon\":{\"P1 ACER\":0.64,\"P1 "
    "ACC\":99.32,\"P1 AUC\":99.95,\"P1 EER\":0.68,\"P2 ACER\":16.44,\"P2 ACC\":68.63,\"P2 "
    "AUC\":84.77},\"npair\":{\"P1 ACER\":1.78,\"P1 ACC\":98.62,\"P1 AUC\":99.75,\"P1 EER\":1.38,\"P2 "
    "ACER\":18.79,\"P2 ACC\":79.8,\"P2 AUC\":85.05,\"P2 EER\":18.66},\"triplet\":{\"P1 ACER\":0.67,\"P1 "
    "ACC\":98.95,\"P1 AUC\":99.76,\"P1 EER\":1.04,\"P2 ACER\":20.0,\"P2 ACC\":69.44,\"P2 AUC\":82.52,\"P2 "
    "EER\":25.86},\"hard_triplet\":{\"P1 ACER\":1.36,\"P1 ACC\":98.9,\"P1 AUC\":99.9,\"P1 EER\":1.09,\"P2 "
    "ACER\":19.56,\"P2 ACC\":75.07,\"P2 AUC\":88.39,\"P2 EER\":16.91},\"moae_cr\":{\"P1 ACER\":0.37,\"P1 "
    "ACC\":99.47,\"P1 AUC\":99.97,\"P1 EER\":0.49,\"P2 ACER\":15.13,\"P2 ACC\":85.41,\"P2 AUC\":92.09,\"P2 "
    "EER\":13.81}}}"
)

MASK_RATES_SMOKE = (
    "{\"name\":\"mask_rates-smoke\",\"title\":\"MMoE Table 5: mask "
    "rates\",\"rows\":[{\"name\":\"clip\",\"label\":\"vanilla CLIP\",\"delta\":{\"moe.kind\":\"none\",\"moe.soft."
    "mask_rates\":\"\",\"loss.moe_cosine_w\":\"0.0\"},\"hash\":\"acec0ea0017f\"},{\"name\":\"rate1\",\"label\":\""
    "Rate 1 (0, .1, .1, .1)\",\"delta\":{\"moe.soft.mask_rates\":\"0.0,0.1,0.1,0.1\"},\"hash\":\"6c0154fb"
    "271b\"}],\"protocols\":[\"P1\"],\"seeds\":[0],\"baseline\":\"clip\",\"metrics\":[\"acer\",\"acc\",\"auc\",\"ee"
    "r\"],\"groups\":{},\"paper\":{\"rate1\":{\"P1 ACER\":1.23,\"P1 ACC\":98.76,\"P1 AUC\":99.34,\"P1 "
    "EER\":1.18,\"P2 ACER\":7.59,\"P2 ACC\":92.14,\"P2 AUC\":98.14,\"P2 EER\":7.59},\"rate2\":{\"P1 "
    "ACER\":1.38,\"P1 ACC\":98.63,\"P1 AUC\":99.51,\"P1 EER\":1.41,\"P2 ACER\":8.14,\"P2 ACC\":91.86,\"P2 "
    "AUC\":97.67,\"P2 EER\":8.13},\"rate3\":{\"P1 ACER\":1.6,\"P1 ACC\":97.45,\"P1 AUC\":99.47,\"P1 "
    "EER\":1.59,\"P2 ACER\":7.95,\"P2 ACC\":92.06,\"P2 AUC\":97.57,\"P2 EER\":7.95},\"rate4\":{\"P1 "
    "ACER\":1.43,\"P1 ACC\":98.57,\"P1 AUC\":99.51,\"P1 EER\":1.43,\"P2 ACER\":8.7,\"P2 ACC\":91.3,\"P2 "
    "AUC\":97.36,\"P2 EER\":8.72},\"clip\":{\"P1 ACER\":1.41,\"P1 ACC\":98.59,\"P1 AUC\":99.61,\"P1 "
    "EER\":1.41,\"P2 ACER\":8.09,\"P2 ACC\":91.91,\"P2 AUC\":97.82,\"P2 EER\":8.11}}}"
)


def sweep_file(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "sweeps" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def demo(name: str) -> SweepArgs:
    return SweepArgs(name=name, overrides=scale_overrides("demo"))


def test_a_recorded_grid_sweep_parses_into_the_view():
    view = TableView.from_json("".join(MOAE_GRID_DEMO))
    assert view.name == "moae_grid-demo" and view.baseline_row == "e4h2"
    assert view.metrics == ["acer", "acc", "auc"]
    assert view.layout == GridLayout(("moe.moae.num_experts", "moe.moae.heads"),
                                     {f"e{e}h{h}": (str(e), str(h)) for e in (2, 4, 8) for h in (2, 4, 8)})
    assert view.hashes["e4h2"] == "94ce8166cade" and view.paper["e8h8"] == {"P1 ACER": 1.6}
    assert view.deltas["e2h4"]["moe.moae.heads"] == "4"
    assert view.to_json() == "".join(MOAE_GRID_DEMO)  # parsed and written back: the recorded bytes


def test_a_recorded_sweep_with_groups_and_paper_numbers_parses_into_the_view():
    view = TableView.from_json("".join(MOAE_LOSS_SWAP_DEMO))
    assert view.columns() == ["P1", "P2.1", "P2.2", "P2"] and view.layout is None
    assert view.paper["npair"]["P2 EER"] == 18.66 and view.baseline_row == "moae_cr"
    assert view.to_json() == "".join(MOAE_LOSS_SWAP_DEMO)


@pytest.mark.parametrize(("name", "recorded", "args"), [
    ("moae_grid", MOAE_GRID_DEMO, demo("moae_grid-demo")),
    ("moae_loss_swap", MOAE_LOSS_SWAP_DEMO, demo("moae_loss_swap-demo")),
    ("mask_rates", MASK_RATES_SMOKE,
     SweepArgs(name="mask_rates-smoke", overrides=scale_overrides("smoke"), smoke_test=True)),
])
def test_todays_declarations_record_what_earlier_code_recorded(name, recorded, args):
    """Same JSON, so a sweep started by earlier code resumes without --allow-spec-change."""
    spec = sweep_file(name).SWEEP.for_args(args)
    assert spec.describe() == "".join(recorded)
    assert spec.view() == TableView.from_json("".join(recorded))


def test_one_declaration_type_resolves_itself():
    """The sweep file's declaration and the resolved sweep are one type; resolving names it, expands groups and
    shrinks a smoke run to the declared smoke rows."""
    sweep = sweep_file("mask_rates").SWEEP
    assert type(sweep) is AblationSpec and sweep.name == "" and sweep.protocols == ("P1", "P2")
    full = sweep.for_args(SweepArgs(name="t", overrides={}, protocols=("P3",), scale="paper"))
    assert full.name == "t" and full.protocols == tuple(f"P3.{i}" for i in range(1, 7)) and full.seeds == (0, 1, 2)
    smoke = sweep.for_args(SweepArgs(name="t", overrides={}, smoke_test=True))
    assert [r.name for r in smoke.rows] == ["clip", "rate1"] and smoke.protocols == ("P1",) and smoke.seeds == (0,)
    for bad in (("clip", "nope"), ("clip",), ("rate1", "rate2")):  # unknown, alone, without the baseline
        with pytest.raises(SweepError, match="smoke_rows"):
            dataclasses.replace(sweep, smoke_rows=bad)


def test_sweep_args_are_typed_and_a_misread_flag_fails_where_it_is_read():
    """No proxy to argparse: a name the command line does not have is an AttributeError in the driver."""
    args = SweepArgs(name="t", overrides={})
    assert not hasattr(SweepArgs, "__getattr__")
    with pytest.raises(AttributeError):
        args.expert0  # noqa: B018 - a file's own flag lives on args.own
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.name = "u"


def test_a_sweep_files_own_flags_reach_it_typed(capsys):
    import argparse

    from pad_core.sweep_args import add_own_flags, own_flags

    hpo = sweep_file("hpo")
    parser = argparse.ArgumentParser()
    add_own_flags(parser, hpo.Flags)
    ns = parser.parse_args(["--space", "moae", "--also", "step_seconds:min", "--also", "auc:max",
                            "--sampler-seed", "3"])
    own = own_flags(hpo.Flags, ns)
    assert own == hpo.Flags(space="moae", also=(("step_seconds", "min"), ("auc", "max")), sampler_seed=3)
    search = hpo.get_search(SweepArgs(name="t", overrides=scale_overrides("smoke"), smoke_test=True, own=own))
    assert search.name == "t-moae" and search.also == (("step_seconds", "min"), ("auc", "max"))
    assert search.sampler_seed == 3 and search.lr is None  # the space is bound to the scale's lr range


@pytest.mark.parametrize("smoke", [True, False])
def test_both_search_files_take_the_one_statement_of_search_sizes(smoke):
    hpo, mask_rates = sweep_file("hpo"), sweep_file("mask_rates")
    args = SweepArgs(name="t", overrides=scale_overrides("smoke" if smoke else "demo"), smoke_test=smoke)
    sizes = SMOKE_SEARCH if smoke else FULL_SEARCH
    for search in (hpo.get_search(dataclasses.replace(args, own=hpo.Flags())),
                   mask_rates.get_search(dataclasses.replace(args, own=mask_rates.Flags()))):
        assert (search.num_samples, search.top_k, search.confirm_seeds) == dataclasses.astuple(sizes)


def test_declarations_import_without_ray_torch_or_pandas():
    """SearchSpec lives outside the Ray-importing package; the command line's args module is light."""
    code = ("import sys, pad_core.sweep_args, pad_core.ablation.search_spec, pad_core.ablation.view; "
            "print(sorted(m for m in ('ray', 'torch', 'mlflow', 'pandas', 'optuna') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_own_flags_are_typed_from_their_annotations_and_a_bare_bool_is_refused():
    """A file's Flags become argparse flags by their annotations, postponed (strings) or not; a bare ``bool`` field
    would be a string flag under argparse (``--x False`` is true), so it must say ``action='store_true'``."""
    import argparse

    from pad_core.sweep_args import add_own_flags

    @dataclasses.dataclass(frozen=True)
    class Counted:
        count: "int" = 3  # noqa: UP037 - a postponed annotation, as under `from __future__ import annotations`
        rate: float = 0.5

    parser = argparse.ArgumentParser()
    add_own_flags(parser, Counted)
    assert vars(parser.parse_args(["--count", "4", "--rate", "0.25"])) == {"count": 4, "rate": 0.25}

    @dataclasses.dataclass(frozen=True)
    class Switch:
        verbose: bool = False

    with pytest.raises(TypeError, match="Switch.verbose: a bool flag needs metadata action='store_true'"):
        add_own_flags(argparse.ArgumentParser(), Switch)
