"""Experiments padsweep makes open in MLflow's model-training view (runs, charts, artifacts), not the GenAI one:
each carries ``mlflow.experimentKind = custom_model_development`` from its creation (real SQLite stores), an
older padsweep's experiment without the tag gets it, a kind a user set stays, and every link padsweep prints names
the training view. The browser side is tests/integration/test_mlflow_ui.py."""

import pytest
from mlflow.tracking import MlflowClient

from pad_core.errors import SweepError
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.mlflow_ui import KIND_TAG, TRAINING_KIND, experiment_url, sweep_url


def store(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def kind(uri: str, name: str) -> str | None:
    return MlflowClient(uri).get_experiment_by_name(name).tags.get(KIND_TAG)


def test_a_new_experiment_is_created_as_model_training(tmp_path):
    uri = store(tmp_path)
    record = SweepRecord(uri, "fresh")
    assert kind(uri, "fresh") == TRAINING_KIND
    assert SweepRecord(uri, "fresh").experiment_id == record.experiment_id  # found again, not created twice


def test_an_older_experiment_without_a_kind_gets_it(tmp_path):
    uri = store(tmp_path)
    MlflowClient(uri).create_experiment("old")  # as padsweep made it before
    SweepRecord(uri, "old")
    assert kind(uri, "old") == TRAINING_KIND


def test_a_kind_the_user_set_is_kept(tmp_path):
    uri = store(tmp_path)
    MlflowClient(uri).create_experiment("theirs", tags={KIND_TAG: "genai_development"})
    SweepRecord(uri, "theirs")
    assert kind(uri, "theirs") == "genai_development"


def test_a_deleted_experiment_of_the_name_is_refused_with_the_way_back(tmp_path):
    uri = store(tmp_path)
    client = MlflowClient(uri)
    client.delete_experiment(client.create_experiment("binned"))
    with pytest.raises(SweepError) as refused:
        SweepRecord(uri, "binned")
    assert str(refused.value) == ("--experiment='binned': experiment 1 of this name is deleted in MLflow. Fix: restore "
                                  "it (mlflow experiments restore --experiment-id 1), or give another --experiment")


def test_reading_an_experiment_writes_no_kind(tmp_path):
    uri = store(tmp_path)
    MlflowClient(uri).create_experiment("old")
    SweepRecord.read_only(uri, "old")  # tables and links: read only
    assert kind(uri, "old") is None


def test_every_link_names_the_training_view():
    for url in (experiment_url("http://127.0.0.1:5000/", "7"), sweep_url("http://127.0.0.1:5000", "7", "s"),
                sweep_url("http://127.0.0.1:5000", "7", "s", "test/p1/acer", charts=True)):
        assert "workflowType=machine_learning" in url and url.startswith("http://127.0.0.1:5000/#/experiments/7")
