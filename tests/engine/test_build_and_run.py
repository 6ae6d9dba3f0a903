"""Building a run (``pad_core.engine.build``) apart from running it (``TrainingRun.fit``): what building hands over
(the start state a checkpoint holds, the train batches from that step on), the report hook called by keyword, and
fault injection acting on the training step it names, armed when running starts, not when the run is built."""

import os

import pytest
import torch

from pad_core.config import from_flat, scale_overrides
from pad_core.engine import Built, RunContext, TrainingRun, build_training, chaos, checkpoint
from pad_core.models.variants import VARIANTS


def smoke_cfg(**extra):
    return from_flat({**scale_overrides("smoke"), **VARIANTS.get("mmoe"), "train.steps": 6, "train.eval_every": 3,
                      **extra})


class Interrupt(Exception):
    pass


def test_building_hands_the_running_side_the_state_a_checkpoint_holds(tmp_path, one_thread):
    reports = []

    def stop_after_first(*, metrics, checkpoint_dir=None, tags=None):  # keyword-only: the engine names each result
        reports.append((int(metrics["step"]), checkpoint_dir, tags))
        raise Interrupt

    with pytest.raises(Interrupt):
        TrainingRun(smoke_cfg(), RunContext(report=stop_after_first, workdir=str(tmp_path))).fit()
    [(step, saved, tags)] = reports
    assert (step, tags) == (3, None) and saved and checkpoint.meta(saved)["step"] == 3

    fresh = build_training(smoke_cfg(), RunContext())
    resumed = build_training(smoke_cfg(), RunContext(resume_dir=saved))
    assert isinstance(resumed, Built) and resumed.net is resumed.model  # no DDP wrapper asked for
    assert (fresh.start.state.step, resumed.start.state.step) == (0, 3)
    assert resumed.start.state.best_step == 3 and not resumed.start.best_unsaved  # best.pt is in the folder already
    # the train batches continue the uninterrupted run's sequence from the restored step
    assert [s.batch_sampler.start_step for s in (fresh.train_loader, resumed.train_loader)] == [0, 3]
    assert next(iter(resumed.train_loader.batch_sampler)) == fresh.train_loader.batch_sampler.batch(3)
    on_disk = torch.load(os.path.join(saved, checkpoint.STATE_FILE), map_location="cpu", weights_only=False)["model"]
    assert all(torch.equal(v, on_disk[k]) for k, v in resumed.model.state_dict().items())
    assert not all(torch.equal(v, on_disk[k]) for k, v in fresh.model.state_dict().items())


def test_an_injected_fault_acts_on_the_step_it_names_once_armed_when_running_starts(tmp_path, monkeypatch,
                                                                                    one_thread):
    reports = []
    run = TrainingRun(smoke_cfg(), RunContext(report=lambda **kw: reports.append(kw), workdir=str(tmp_path / "w")))
    # set after building: the run's fault hook is made where it acts, in the training loop
    monkeypatch.setenv("PADSWEEP_CHAOS", "raise@2")
    monkeypatch.setenv("PADSWEEP_CHAOS_DIR", str(tmp_path / "chaos"))
    with pytest.raises(chaos.InjectedFault, match="at step 2$"):
        run.fit()
    assert run.state.step == 2 and reports == []  # after step 2, before the first evaluation (step 3)
    assert len(os.listdir(tmp_path / "chaos")) == 1  # one marker: this run and rank faulted
    retry = chaos.run_injector(smoke_cfg(), rank=0)
    assert retry is not None and retry(2) is None  # the retried attempt of the same run goes through


def test_a_run_fitted_again_after_an_interruption_continues_from_its_step(tmp_path, one_thread):
    """fit() once interrupted and called again continues from the step it reached, as a run did before building
    and running were split (the loader is rebuilt from the current step, not taken from the spent one)."""
    calls = []

    def stop_once(*, metrics, checkpoint_dir=None, tags=None):
        calls.append(int(metrics["step"]))
        if len(calls) == 1:
            raise Interrupt

    run = TrainingRun(smoke_cfg(), RunContext(report=stop_once, workdir=str(tmp_path)))
    with pytest.raises(Interrupt):
        run.fit()
    run.fit()
    assert calls[:2] == [3, 6] and run.state.step == 6
