"""Packing trials onto GPUs (issue 19): ``--gpus-per-trial`` takes a fraction below 1 (one worker in the Tune trial
holds it; several trials share a GPU) or whole GPUs (one DDP worker each).

- every combination of the resource flags either becomes the Resources the trials hold, or is refused through the
  real command line (exit 2, ``key=value: problem. Fix: ...``) before a real MLflow server records anything;
- concurrency is exact arithmetic on a dict of node resources, without Ray (0.1 GPU is 10 trials per GPU: the
  float floor says 9);
- ``--plan`` states the share;
- a node whose GPUs are declared for scheduling only (PADSWEEP_DECLARED_GPUS=1) trains on the CPU.
"""

from __future__ import annotations

import re

import pytest
import torch

from pad_core.errors import SweepError
from pad_core.integrations import train_worker
from pad_core.integrations.cli import build_parser, options
from pad_core.integrations.cli_inputs import parse
from pad_core.integrations.cluster import DRIVER_RESOURCE, concurrency, fit_trials
from pad_core.integrations.options import Resources
from pad_core.integrations.planning import describe_resources
from tests.refusals import ROOT, no_ambient_cluster, refused  # noqa: F401 - no_ambient_cluster: autouse fixture

REFUSAL_SECONDS: dict[str, float] = {}
NO_SERVER = ["--mlflow-uri", "http://127.0.0.1:9"]  # checked in form only: options() opens no connection


def resources_of(*flags: str) -> Resources:
    return options(parse(build_parser("packing"), [*NO_SERVER, *flags])).resources


@pytest.mark.parametrize(("flags", "workers", "gpus_per_worker", "in_trial"), [
    ((), 1, 0.0, True),
    (("--gpus-per-trial", "0.25"), 1, 0.25, True),
    (("--gpus-per-trial", "0.1", "--workers-per-trial", "1"), 1, 0.1, True),
    (("--gpus-per-trial", "0.0001"), 1, 0.0001, True),
    (("--gpus-per-trial", "1"), 1, 1.0, True),
    (("--gpus-per-trial", "1", "--always-ray-train"), 1, 1.0, False),
    (("--gpus-per-trial", "2.0"), 2, 1.0, True),
    (("--gpus-per-trial", "4", "--workers-per-trial", "4"), 4, 1.0, True),
    (("--workers-per-trial", "2"), 2, 0.0, True),
    (("--workers-per-trial", "2", "--always-ray-train"), 2, 0.0, False),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_accepted_flags_become_what_each_trial_holds(flags, workers, gpus_per_worker, in_trial):
    res = resources_of(*flags)
    assert (res.workers, res.gpus_per_worker, res.in_trial) == (workers, gpus_per_worker, in_trial)
    assert res.trains_in_trial == (in_trial and workers == 1)
    if 0 < gpus_per_worker < 1:  # the fast path: the Tune trial itself holds the share
        assert res.trial_resources(DRIVER_RESOURCE) == {"CPU": 1.0, "GPU": gpus_per_worker}


REFUSED = [  # (flags, the whole message after "error: ")
    (["--gpus-per-trial", "0.25", "--workers-per-trial", "2"],
     "--gpus-per-trial=0.25: a fraction of a GPU is held by one worker inside the Tune trial, and "
     "--workers-per-trial 2 asks for 2 DDP workers (Ray Train workers hold whole GPUs here). Fix: drop "
     "--workers-per-trial, or give whole GPUs, one per worker: --gpus-per-trial 2"),
    (["--gpus-per-trial", "0.5", "--always-ray-train"],
     "--gpus-per-trial=0.5: a fraction of a GPU trains inside the Tune trial, and --always-ray-train asks for a "
     "Ray Train worker (they hold whole GPUs here). Fix: drop --always-ray-train, or give --gpus-per-trial 1"),
    (["--gpus-per-trial", "1.5"],
     "--gpus-per-trial=1.5: above one GPU a trial holds whole GPUs, one DDP worker each; only a trial below one "
     "GPU may hold a fraction. Fix: give a whole number, --gpus-per-trial 1 or 2"),
    (["--gpus-per-trial", "2", "--workers-per-trial", "4"],
     "--workers-per-trial=4: with --gpus-per-trial 2 each worker would hold 0.5 GPU, and a Ray Train (DDP) worker "
     "holds one whole GPU. Fix: drop --workers-per-trial (one worker per GPU), or give --workers-per-trial 2"),
    (["--gpus-per-trial", "4", "--workers-per-trial", "2"],
     "--workers-per-trial=2: with --gpus-per-trial 4 each worker would hold 2 GPU, and a Ray Train (DDP) worker "
     "holds one whole GPU. Fix: drop --workers-per-trial (one worker per GPU), or give --workers-per-trial 4"),
    (["--gpus-per-trial", "1", "--workers-per-trial", "2"],
     "--workers-per-trial=2: with --gpus-per-trial 1 each worker would hold 0.5 GPU, and a Ray Train (DDP) worker "
     "holds one whole GPU. Fix: drop --workers-per-trial (one worker per GPU), or give --workers-per-trial 1"),
    (["--gpus-per-trial", "0.00005"],
     "--gpus-per-trial=5e-05: finer than Ray's resource step of 0.0001: Ray would not hold this amount as given. "
     "Fix: give a multiple of 0.0001, e.g. --gpus-per-trial 0.0001"),
    (["--gpus-per-trial", "0.33333"],
     "--gpus-per-trial=0.33333: finer than Ray's resource step of 0.0001: Ray would not hold this amount as "
     "given. Fix: give a multiple of 0.0001, e.g. --gpus-per-trial 0.3333"),
    (["--cpus-per-worker", "0.12345"],
     "--cpus-per-worker=0.12345: finer than Ray's resource step of 0.0001: Ray would not hold this amount as "
     "given. Fix: give a multiple of 0.0001, e.g. --cpus-per-worker 0.1234"),
    (["--gpus-per-trial", "-0.25"],
     "--gpus-per-trial=-0.25: negative; must be >= 0. Fix: give the GPUs each trial holds: whole GPUs, a fraction "
     "below 1 (e.g. 0.25), or 0 for CPU trials"),
    (["--gpus-per-trial", "nan"],
     "--gpus-per-trial=nan: not a finite number. Fix: give the GPUs each trial holds: whole GPUs, a fraction below "
     "1 (e.g. 0.25), or 0 for CPU trials"),
    (["--gpus-per-trial", "a quarter"],
     "--gpus-per-trial='a quarter': not a number. Fix: give the GPUs each trial holds: whole GPUs, a fraction below "
     "1 (e.g. 0.25), or 0 for CPU trials"),
]


@pytest.fixture(scope="module")
def server(store):
    yield store
    print("\ntime to refusal (s, in-process):", {k: round(v, 2) for k, v in REFUSAL_SECONDS.items()})


@pytest.mark.parametrize(("flags", "message"), REFUSED, ids=[" ".join(f) for f, _ in REFUSED])
def test_refused_naming_the_value_and_the_fix_before_anything_is_recorded(flags, message, server, capsys):
    err = refused("mask_rates.py", flags, server, capsys, times=REFUSAL_SECONDS)
    assert f"error: {message}\n" in err, err


GPU_NODE = {"CPU": 4.0, "GPU": 1.0, "memory": 8e9}
HEAD = {"CPU": 0.0, DRIVER_RESOURCE: 8.0}


@pytest.mark.parametrize(("nodes", "res", "fit"), [
    ([GPU_NODE], Resources(gpus_per_worker=0.25), 4),  # 4 trials per GPU
    ([GPU_NODE, GPU_NODE], Resources(gpus_per_worker=0.25), 8),
    ([{"CPU": 16.0, "GPU": 1.0}], Resources(gpus_per_worker=0.1), 10),  # exact: 1.0 // 0.1 is 9.0 in floats
    ([{"CPU": 16.0, "GPU": 1.0}], Resources(gpus_per_worker=0.3), 3),  # 0.1 of the GPU idle
    ([GPU_NODE], Resources(gpus_per_worker=0.25, cpus_per_worker=2.0), 2),  # the CPUs run out first
    ([HEAD, {"CPU": 4.0, "GPU": 2.0}], Resources(gpus_per_worker=1.0), 2),  # two whole-GPU trials on one node
    ([{"CPU": 4.0, "GPU": 1.0}] * 3, Resources(gpus_per_worker=0.4), 6),  # per node 2: the total 3 / 0.4 says 7
    ([{"CPU": 8.0, "GPU": 1.0}] * 2, Resources(workers=2, gpus_per_worker=1.0), 1),  # DDP ranks spread over nodes
    ([{"CPU": 1.0}], Resources(cpus_per_worker=0.1), 10),
    ([HEAD], Resources(gpus_per_worker=0.25), 0),
])
def test_concurrency_is_exact_arithmetic_on_node_resources(nodes, res, fit):
    assert fit_trials(nodes, res) == fit
    assert 1.0 // 0.1 == 9.0  # why the arithmetic is exact


def test_concurrency_caps_and_refusals():
    total = {"CPU": 8.0, "GPU": 2.0, DRIVER_RESOURCE: 8.0}
    assert concurrency([GPU_NODE, GPU_NODE], total, Resources(gpus_per_worker=0.25)) == 8
    assert concurrency([GPU_NODE, GPU_NODE], total, Resources(gpus_per_worker=0.25), requested=3) == 3
    assert concurrency([HEAD], {**HEAD}, Resources(gpus_per_worker=0.25), autoscaling=True) == 8  # nodes to come
    idle = {"CPU": 1.0}  # a worker node left from the last sweep fits one trial now; the autoscaler adds more
    assert concurrency([HEAD, idle], {"CPU": 1.0, DRIVER_RESOURCE: 8.0}, Resources(), autoscaling=True) == 8
    with pytest.raises(SweepError, match=r"^resources per trial='0.25 GPUs \+ 1 CPUs': more than the cluster has "):
        concurrency([HEAD], {**HEAD}, Resources(gpus_per_worker=0.25))
    with pytest.raises(SweepError, match="TRAIN_DRIVER"):
        concurrency([GPU_NODE], {"CPU": 4.0, "GPU": 1.0}, Resources())


@pytest.mark.parametrize(("res", "said"), [
    (Resources(gpus_per_worker=0.25), "; a fraction of a GPU: 0.25 GPU per trial, 4 trials share each GPU"),
    (Resources(gpus_per_worker=0.1), "; a fraction of a GPU: 0.1 GPU per trial, 10 trials share each GPU"),
    (Resources(gpus_per_worker=0.3), "; a fraction of a GPU: 0.3 GPU per trial, 3 trials share each GPU, 0.1 of it "
                                     "left idle"),
    (Resources(gpus_per_worker=1.0), ""),
    (Resources(), ""),
])
def test_the_plan_states_the_share(res, said):
    assert describe_resources(res).endswith("trained in the Tune trial" + said)


def test_plan_of_a_fractional_sweep_says_how_trials_share_a_gpu(tmp_path, capsys, monkeypatch):
    from pad_core.integrations.cli import sweep_main
    from tests.refusals import inputs_of

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    argv = ["--smoke-test", "--plan", "--gpus-per-trial", "0.25", "--storage", str(tmp_path)]
    text = sweep_main(argv=argv, **inputs_of("mask_rates.py"))
    assert "1 worker(s) x (0.25 GPU + 1 CPU), trained in the Tune trial; a fraction of a GPU: 0.25 GPU per trial, " \
           "4 trials share each GPU" in text


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(train_worker.pick_device, "declared_said", False, raising=False)


def test_declared_only_gpus_train_on_the_cpu_and_say_so_once(no_cuda, monkeypatch, capsys):
    monkeypatch.setenv("PADSWEEP_DECLARED_GPUS", "1")
    assert [train_worker.pick_device(0.25, "worker-1") for _ in range(3)] == ["cpu"] * 3
    assert train_worker.pick_device(0) == "cpu"
    out = capsys.readouterr().out
    assert out == ("--gpus-per-trial=0.25: the GPUs of node worker-1 are declared for scheduling only "
                   "(PADSWEEP_DECLARED_GPUS=1): training on the CPU\n")


@pytest.mark.parametrize("value", [None, "0", ""])
def test_without_the_declaration_a_gpu_trial_without_cuda_is_refused_as_before(no_cuda, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("PADSWEEP_DECLARED_GPUS", raising=False)
    else:
        monkeypatch.setenv("PADSWEEP_DECLARED_GPUS", value)
    with pytest.raises(train_worker.GpuUnavailable, match=re.escape("--gpus-per-trial=0.5: this trial holds a GPU "
                                                                    "but torch.cuda.is_available() is False")):
        train_worker.pick_device(0.5, "gpu-node-7")
