"""What a search learned, rebuilt from a real MLflow store (SQLite) holding fabricated search trials: the history
and best so far on the parent run, fANOVA importance replayed through the search's own space, the Pareto front,
the notes when nothing can be rated, and the confirmation grid's baseline row."""

import functools
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from pad_core.ablation.search_spec import SearchSpec
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.search import confirm_spec, overrides
from pad_core.integrations.search_report import REPORT_DIR, report_search
from pad_core.integrations.search_trials import CURVE_BEST, FINAL, search_trials
from pad_core.integrations.trial import DRAWS_TAG, draws_tag
from pad_core.metrics.pareto import pareto_fronts
from search_spaces.mmoe import mask_rate_space

SPACE = functools.partial(mask_rate_space, lr_range=(1e-4, 1e-3))  # raw search.* draws, as mask_rates.py searches


@pytest.fixture()
def record(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_experiment("e", artifact_location=str(tmp_path / "artifacts"))
    return SweepRecord(uri, "e")


def drawn(n: int, seed: int = 0) -> list[dict]:
    """n draws of SPACE as a Tune trial's config holds them (the space's params and returned constants)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs = []
    for _ in range(n):
        trial = study.ask()
        constants = SPACE(trial)
        configs.append({**trial.params, **constants})
        study.tell(trial, 0.0)
    return configs


def add_trial(record: SweepRecord, parent: str, i: int, config: dict | None, eer: float | None, *,
              stopped: bool = False, step_seconds: float | None = None) -> str:
    """A search child run as a trial leaves it: tags (draws), the dev EER curve and, unless stopped early, the
    final report; started at i seconds (trial-start order)."""
    tags = {"mlflow.parentRunId": parent, "pad.cell": f"search|t{i}", "pad.stage": "search",
            "pad.outcome": "early_stopped" if stopped else "completed",
            **(draws_tag({"plan": {}, **config}) if config is not None else {})}
    run_id = record.client.create_run(record.experiment_id, start_time=1_000 * (i + 1), tags=tags,
                                      run_name=f"search·t{i}").info.run_id
    if eer is None:
        return run_id
    curve = [Metric("dev/p1/eer", eer + 0.1, 0, 3), Metric("dev/p1/eer", eer, 0, 6)]
    if step_seconds is not None:
        curve += [Metric("train/p1/step_seconds", step_seconds, 0, 3)]
        if not stopped:
            curve += [Metric("train/p1/mean_step_seconds", step_seconds, 0, 6)]
    final = [] if stopped else [Metric("dev/p1/selected_eer", eer, 0, 6)]
    record.client.log_batch(run_id, metrics=curve + final)
    return run_id


def lr_driven_trials(record: SweepRecord, space, seed: int, n: int = 12) -> str:
    """n trials of ``space`` drawn at random under parent "s", their dev EER driven by the learning rate alone;
    returns the parent."""
    parent = record.parent("s", {})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for i in range(n):
        trial = study.ask()
        space(trial)
        add_trial(record, parent, i, dict(trial.params), 0.1 + trial.params["optim.lr"] * 100)
        study.tell(trial, 0.0)
    return parent


def artifact(record: SweepRecord, parent: str, name: str) -> str:
    with tempfile.TemporaryDirectory() as into:  # MLflow's own default folder would stay in the temp folder
        return Path(record.client.download_artifacts(parent, f"{REPORT_DIR}/{name}", into)).read_text()


def artifact_csv(record: SweepRecord, parent: str, name: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(artifact(record, parent, name)))


def values(record: SweepRecord, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in record.client.get_metric_history(run_id, key))


def test_draws_tag_keeps_raw_search_draws_as_json_and_nothing_for_a_grid_cell():
    config = {"plan": {"stage": "search"}, "search.mask_rate_1": 0.25, "optim.lr": 3e-4,
              "moe.soft.mask_rates": (0.0, 0.25)}
    assert json.loads(draws_tag(config)[DRAWS_TAG]) == {"search.mask_rate_1": 0.25, "optim.lr": 3e-4,
                                                        "moe.soft.mask_rates": [0.0, 0.25]}
    assert draws_tag({"plan": {"stage": "ablation"}}) == {}


def test_history_and_best_so_far_in_trial_start_order_with_early_stops_counted_as_documented(record):
    spec = SearchSpec("s", "T", {}, SPACE, "P1")
    parent = record.parent("s", {})
    configs = drawn(5)
    # created out of start order; trial 3 was stopped early (its curve's best 0.2 counts), trial 4 never reported
    for i, eer, stopped in ((2, 0.4, False), (0, 0.5, False), (1, 0.3, False), (3, 0.2, True), (4, None, False)):
        add_trial(record, parent, i, configs[i], eer, stopped=stopped)
    trials = search_trials(record, parent, spec)
    assert [t.name for t in trials] == [f"search·t{i}" for i in range(5)]
    assert [t.counted_as for t in trials] == [FINAL, FINAL, FINAL, CURVE_BEST, ""]
    report_search(record, parent, spec, trials)
    assert values(record, parent, "search/p1/eer") == [(0, 0.5), (1, 0.3), (2, 0.4), (3, 0.2)]
    assert values(record, parent, "search/p1/best_eer") == [(0, 0.5), (1, 0.3), (2, 0.3), (3, 0.2), (4, 0.2)]
    history = artifact_csv(record, parent, "history.csv")
    assert history["counted_as"].fillna("").tolist() == [FINAL, FINAL, FINAL, CURVE_BEST, ""]
    assert np.allclose(history["draw:search.mask_rate_2"], [c["search.mask_rate_2"] for c in configs])
    names = {a.path for a in record.client.list_artifacts(parent, REPORT_DIR)}
    assert names == {f"{REPORT_DIR}/{n}" for n in ("history.csv", "history.png", "importance.csv", "importance.png",
                                                   "summary.md")}
    assert "stopped early by the scheduler at the best value they reported" in artifact(record, parent, "summary.md")
    report_search(record, parent, spec, search_trials(record, parent, spec))  # a resumed search reports again
    assert values(record, parent, "search/p1/best_eer") == [(0, 0.5), (1, 0.3), (2, 0.3), (3, 0.2), (4, 0.2)]


def test_importance_ranks_the_parameter_that_drives_the_objective_first(record):
    """The EER depends on expert 2's mask rate only (a raw search.* draw, which is no config key: the study is
    rebuilt by replaying the space on the recorded draws); fANOVA ranks it first under every evaluator seed."""
    spec = SearchSpec("s", "T", {}, SPACE, "P1")
    parent = record.parent("s", {})
    for i, config in enumerate(drawn(24, seed=1)):
        add_trial(record, parent, i, config, 0.05 + 0.5 * config["search.mask_rate_2"], stopped=i % 3 == 0)
    imp = report_search(record, parent, spec, search_trials(record, parent, spec)).importance
    assert imp.frame.iloc[0]["param"] == "search.mask_rate_2" and imp.frame.iloc[0]["rank"] == 1
    assert imp.frame.iloc[0]["mean"] > 0.8 and set(imp.frame["seeds"]) == {5} and set(imp.frame["trials"]) == {24}
    assert sorted(imp.frame["param"]) == ["optim.lr", "search.mask_rate_1", "search.mask_rate_2",
                                          "search.mask_rate_3"]
    assert "24 trials in the study: 16 at their final report, 8 stopped early" in imp.notes[0]
    mean = values(record, parent, "search/p1/importance_eer.search.mask_rate_2")
    std = values(record, parent, "search/p1/importance_std_eer.search.mask_rate_2")
    assert mean == [(24, pytest.approx(imp.frame.iloc[0]["mean"]))] and std[0][1] >= 0


def test_pareto_csv_is_front_zero_of_the_trials(record):
    spec = SearchSpec("s", "T", {}, SPACE, "P1", also=(("step_seconds", "min"),))
    parent = record.parent("s", {})
    points = [(0.30, 1.0), (0.20, 2.0), (0.10, 4.0), (0.25, 2.5), (0.10, 5.0), (0.35, 0.9), (0.40, 3.0)]
    for i, (config, (eer, seconds)) in enumerate(zip(drawn(len(points)), points)):
        add_trial(record, parent, i, config, eer, step_seconds=seconds)
    report_search(record, parent, spec, search_trials(record, parent, spec))
    front = artifact_csv(record, parent, "pareto.csv")
    expected = [i for i, f in enumerate(pareto_fronts(points, ["min", "min"])) if f == 0]
    assert sorted(front["trial"]) == expected == [0, 1, 2, 5]  # by hand: 3, 4 and 6 are each beaten by one
    assert front["eer"].tolist() == sorted(front["eer"])  # best first by the first objective
    assert {f"{REPORT_DIR}/pareto.png", f"{REPORT_DIR}/pareto.csv"} <= {
        a.path for a in record.client.list_artifacts(parent, REPORT_DIR)}


@pytest.mark.parametrize("case, note", [
    ("one trial", "fANOVA needs at least 2 trials with a value and draws, there are 1"),
    ("same objective", "the objective took the same value in every trial"),
    ("no draws", "fANOVA needs at least 2 trials with a value and draws, there are 0"),
])
def test_too_little_to_rate_is_a_note_in_the_artifacts_never_an_error(record, case, note):
    spec = SearchSpec("s", "T", {}, SPACE, "P1")
    parent = record.parent("s", {})
    configs = drawn(3)
    if case == "one trial":
        add_trial(record, parent, 0, configs[0], 0.2)
        add_trial(record, parent, 1, configs[1], None)  # failed before its first report
    for i in range(3 if case != "one trial" else 0):
        add_trial(record, parent, i, None if case == "no draws" else configs[i], 0.2)
    report = report_search(record, parent, spec, search_trials(record, parent, spec))
    assert report.importance.frame.empty and any(note in n for n in report.importance.notes)
    assert note in artifact(record, parent, "summary.md")
    assert artifact_csv(record, parent, "importance.csv").empty
    if case == "no draws":
        assert "no recorded draws (tag pad.draws" in artifact(record, parent, "summary.md")


def test_conditional_parameters_are_named_as_not_rated(record):
    def space(trial):
        if trial.suggest_categorical("moe.kind", ["soft", "sue"]) == "sue":
            trial.suggest_categorical("moe.sue.top_k", [1, 2])
        trial.suggest_float("optim.lr", 1e-4, 1e-3, log=True)

    spec = SearchSpec("s", "T", {}, space, "P1")
    parent = lr_driven_trials(record, space, seed=0)
    imp = report_search(record, parent, spec, search_trials(record, parent, spec)).importance
    assert sorted(imp.frame["param"]) == ["moe.kind", "optim.lr"]
    assert "not rated (drawn in only some trials, conditional): moe.sue.top_k" in imp.notes


def test_trials_the_space_refuses_now_are_left_out_with_a_note(record):
    """A space edited since the trials ran (a choice removed) refuses their draws on replay: those trials are
    left out and named, the others still rated; the report never fails the finished search."""
    def before(trial):
        trial.suggest_categorical("moe.sue.top_k", [1, 2, 3])
        trial.suggest_float("optim.lr", 1e-4, 1e-3, log=True)

    def after(trial):  # top_k=3 is no longer a choice
        trial.suggest_categorical("moe.sue.top_k", [1, 2])
        trial.suggest_float("optim.lr", 1e-4, 1e-3, log=True)

    parent = lr_driven_trials(record, before, seed=1)
    spec = SearchSpec("s", "T", {}, after, "P1")
    refused = sum(json.loads(t.data.tags[DRAWS_TAG])["moe.sue.top_k"] == 3 for t in record.children(parent))
    assert refused > 0
    imp = report_search(record, parent, spec, search_trials(record, parent, spec)).importance
    notes = [n for n in imp.notes if "the space refuses its draws now" in n]
    assert len(notes) == refused and "optim.lr" in set(imp.frame["param"])


def test_the_confirmation_grid_compares_the_top_configs_with_the_search_base():
    spec = SearchSpec("s", "T", {"optim.lr": 1e-4}, SPACE, "P1", confirm_seeds=(100,))
    confirm = confirm_spec(spec, [{"optim.lr": 3e-4}, {"optim.lr": 5e-4}])
    assert [r.name for r in confirm.rows] == ["base", "top1", "top2"] and confirm.baseline_row == "base"
    assert confirm.rows[0].delta == {} and confirm.base == spec.base and confirm.seeds == (100,)
    assert json.loads(confirm.describe())["baseline"] == "base"


def test_a_top_config_keeps_only_what_its_config_reads_and_passes_the_grids_audit():
    """The MoE-kind space returns SoftMoE constants (no mask rates) for every kind: a MoAE top config must not
    carry them into the confirmation grid, whose dead-toggle audit refuses a row changing a key it never reads;
    a top config equal to the base config is the baseline row itself."""
    from pad_core.audit import audit_spec
    from pad_core.config import from_flat, scale_overrides, to_params
    from search_spaces.mmoe import MMOE_BASE

    base = {**MMOE_BASE, **scale_overrides("smoke")}
    spec = SearchSpec("s", "T", base, SPACE, "P1", confirm_seeds=(100,))
    drawn_cfg = from_flat({**base, "data.protocol": "P1", "train.seed": 0, "moe.kind": "moae",
                           "moe.soft.mask_rates": (), "loss.moe_cosine_w": 0.0, "optim.lr": 3e-4})
    top = overrides(from_flat({**base, "data.protocol": "P1", "train.seed": 0}), to_params(drawn_cfg))
    assert top == {"moe.kind": "moae", "loss.moe_cosine_w": 0.0, "optim.lr": 3e-4}  # read: stays
    confirm = confirm_spec(spec, [top, {}])
    assert [r.name for r in confirm.rows] == ["base", "top1"] and "= top2" in confirm.rows[0].label
    assert audit_spec(confirm) == []
