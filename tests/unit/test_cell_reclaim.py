"""A trial that wins a cell's claim after the previous holder finished the cell does not train it again.

Race (found in review): driver B lists cell X as pending while driver A's trial still trains it; A finishes X and
releases its claim; B's trial then wins the claim. It must see the completed run and leave it alone, instead of
reopening it and logging the same steps a second time. Real MLflow server (tests/conftest.py::store).
"""

from mlflow.tracking import MlflowClient

from pad_core.config import scale_overrides
from pad_core.integrations import trial
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.options import Resources, TrialPlan
from pad_core.integrations.trial import SKIPPED


def test_a_cell_finished_by_the_claims_last_holder_is_not_trained_again(store, monkeypatch, capsys):
    record = SweepRecord(store, "padsweep")
    parent = record.parent("reclaim", {"pad.stage": "ablation"})
    key = "clip|P1|s0|h|i"
    done = record.child(parent, key, "clip·P1·s0", {"pad.row": "clip"}, {})
    record.finalize(done.run_id, "FINISHED", "completed")
    before = MlflowClient(store).get_run(done.run_id)
    reports = []
    monkeypatch.setattr(trial.tune, "report", reports.append)
    monkeypatch.setattr(trial, "train_in_trial", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    plan = TrialPlan(sweep="reclaim", stage="ablation", tracking_uri=store, experiment="padsweep", parent_id=parent,
                     storage_path="/nonexistent", resources=Resources(), flat=scale_overrides("smoke"), row="clip",
                     key=key, run_name="clip·P1·s0")
    trial.train_cell(plan, {"plan": plan}, "t1", key, "clip·P1·s0")
    after = MlflowClient(store).get_run(done.run_id)
    assert reports and reports[-1][SKIPPED] == 1.0 and "another trial finished it" in reports[-1]["pad_reason"]
    assert after.info.status == "FINISHED" and after.data.tags == before.data.tags
    assert len(record.children(parent)) == 1
