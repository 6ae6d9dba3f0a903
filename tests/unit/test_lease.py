"""Leases and cell claims on a real MLflow server (the session's ``store``), and the sweep's parent run they guard:
who is judged gone (PID namespaces, /proc that hides processes), quick releases whatever MLflow does, fresh
heartbeats of a claimant that waited, earlier attempts of a trial told apart from another driver's trial with the
same Tune id, and a parent that ends however the driver fails while recording on it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest
from mlflow.tracking import MlflowClient

from pad_core.errors import SweepError
from pad_core.integrations import lease
from pad_core.integrations.lease import Claim, Claims, Holding, claim_cell, holder_tags, lease_sweep, why_not_live
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.services.base import free_port
from pad_core.integrations.session import Signals, SweepInterrupted, sweep_runs
from pad_core.integrations.sweep_checks import record_data

OTHER_NAMESPACE = "pid:[1]"  # no process of this test runs in it: the init namespace's inode is never 1


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def forged(pidns: str, pid: int, age_s: float = 0.0, **tags: str) -> Claim:
    """A claim as a driver at ``pid`` in namespace ``pidns`` on this host and boot would have made it."""
    made = {**holder_tags(), "pad.pid": str(pid), "pad.pidns": pidns, "pad.heartbeat": f"{time.time() - age_s:.3f}",
            **tags}
    return Claim(1, made)


def sweep_subject(store: str, sweep: str) -> dict[str, str]:
    return {"pad.lease": "sweep", "pad.experiment": SweepRecord(store, "lease-unit").experiment_id, "pad.sweep": sweep}


def test_a_dead_pid_of_another_pid_namespace_is_judged_by_its_heartbeat_only(store):
    """Two drivers in `docker --network host` containers share hostname and boot id, not their pids: a claim from
    the other namespace whose pid is dead here holds until its heartbeat expires; in this namespace it is gone."""
    pid, here = dead_pid(), lease._pid_namespace()
    assert here, "this test needs a readable /proc/self/ns/pid"
    assert why_not_live(forged(OTHER_NAMESPACE, pid)) == ""
    assert why_not_live(forged("", pid)) == ""  # a claimant that could not read its namespace: not judged by pid
    assert "no heartbeat" in why_not_live(forged(OTHER_NAMESPACE, pid, age_s=lease.EXPIRY_S + 1))
    assert "is gone" in why_not_live(forged(here, pid))

    name = f"ns-{uuid.uuid4().hex[:8]}"
    subject = sweep_subject(store, name)
    claims = Claims(store)
    other = claims.add(subject, forged(OTHER_NAMESPACE, pid).tags)
    with pytest.raises(SweepError, match="already being run by another driver"):
        lease_sweep(store, subject["pad.experiment"], "lease-unit", name, wait=False, command="test")
    assert [c.version for c in claims.on(subject)] == [other.version]  # refused: its own claim withdrawn
    claims.drop(other.version)
    claims.add(subject, forged(here, pid).tags)
    with lease_sweep(store, subject["pad.experiment"], "lease-unit", name, wait=False, command="test") as held:
        assert [c.version for c in claims.on(subject)] == [held.claim.version]  # the dead one taken over at once


def test_a_process_that_proc_hides_is_alive(monkeypatch):
    """/proc mounted hidepid=2 shows no start time of another user's process: the claim's recorded start cannot be
    compared, so its live pid stays its (the heartbeat decides), not "gone"."""
    monkeypatch.setattr(lease, "_process_start", lambda pid: "")  # what /proc/<pid>/stat reads under hidepid=2
    claim = forged(lease._pid_namespace(), os.getpid(), **{"pad.proc": "12345"})
    assert why_not_live(claim) == ""


def test_a_release_with_mlflow_down_returns_at_once_and_says_the_claim_expires(capsys):
    """MLflow down (maybe why the sweep ends): the release makes one quick request, reports it and returns; the
    claim expires on its own."""
    unreachable = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    Holding(Claims(unreachable), Claim(7, holder_tags()), "sweep 'down'").release()
    with pytest.raises(Exception):  # noqa: B017 - whichever connection error; the session suppresses it
        lease.drop_cell_claims(unreachable, "some-parent")
    took = time.monotonic() - started
    assert "sweep 'down': could not release the claim" in capsys.readouterr().out
    with capsys.disabled():
        print(f"\nrelease and drop_cell_claims against an unreachable MLflow: {took:.2f} s")


def test_a_ctrl_c_during_a_release_does_not_skip_it():
    """SIGINT and SIGTERM wait (ignored) while a claim is released, then the handlers are back."""
    before = signal.getsignal(signal.SIGINT)
    with lease.releasing():
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # a handler would have raised by now
    assert signal.getsignal(signal.SIGINT) is before


def test_a_claimant_that_waited_holds_with_a_fresh_heartbeat(store, monkeypatch):
    """A claimant waits for a silent holder to expire: its own claim is beaten meanwhile, so the moment it holds a
    third claimant does not take it for expired."""
    monkeypatch.setattr(lease, "EXPIRY_S", 3.0)
    monkeypatch.setattr(lease, "POLL_S", 0.5)
    monkeypatch.setattr(lease, "HEARTBEAT_S", 60.0)  # the holder's own thread would not beat in time
    parent = f"parent-{uuid.uuid4().hex[:8]}"
    subject = {"pad.lease": "cell", "pad.parent": parent, "pad.cell": "c"}
    claims = Claims(store)
    claims.add(subject, forged(OTHER_NAMESPACE, dead_pid(), **{"pad.trial": "silent"}).tags)
    held = claim_cell(store, parent, "c", "waiter", "cell c")
    try:
        assert isinstance(held, Holding)
        [mine] = claims.on(subject)
        assert mine.version == held.claim.version and why_not_live(mine) == ""
    finally:
        held.release()


def test_a_holder_beats_as_soon_as_it_holds(store, monkeypatch):
    monkeypatch.setattr(lease, "HEARTBEAT_S", 60.0)
    subject = {"pad.lease": "cell", "pad.parent": f"parent-{uuid.uuid4().hex[:8]}", "pad.cell": "c"}
    claims = Claims(store)
    stale = claims.add(subject, {**holder_tags(), "pad.heartbeat": f"{time.time() - 100:.3f}"})
    with Holding(claims, stale, "cell c"):
        deadline = time.monotonic() + 10
        while claims.on(subject)[0].heartbeat_age() > 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert claims.on(subject)[0].heartbeat_age() < 50


def test_a_trial_id_reused_by_another_driver_is_not_an_earlier_attempt(store, monkeypatch):
    """A search restored by a driver that took the sweep over reuses Tune's trial ids: a live claim of the same trial
    id made under another driver is that driver's (the newcomer yields naming it); one made under this driver is an
    earlier attempt of this trial (taken over at once, though it looks alive)."""
    monkeypatch.setattr(lease, "POLL_S", 0.3)
    monkeypatch.setattr(lease, "HEARTBEAT_S", 0.2)
    parent = f"parent-{uuid.uuid4().hex[:8]}"
    subject = {"pad.lease": "cell", "pad.parent": parent, "pad.cell": "c"}
    claims = Claims(store)
    theirs = claims.add(subject, {**holder_tags(), "pad.pidns": OTHER_NAMESPACE, "pad.trial": "t1",
                                  "pad.driver": "ray session_other job 01000000"})
    with Holding(claims, theirs, "their cell c"):
        got = claim_cell(store, parent, "c", "t1", "cell c")
        assert isinstance(got, Claim) and got.version == theirs.version
    ours = claims.add(subject, {**holder_tags(), "pad.trial": "t1", "pad.driver": lease.driver_identity()})
    with Holding(claims, ours, "an earlier attempt"):
        retry = claim_cell(store, parent, "c", "t1", "cell c")
        assert isinstance(retry, Holding)
        retry.release()
    assert not claims.on(subject)


def _parent(store: str, sweep: str):
    return SweepRecord(store, "lease-unit").find_parent(sweep)


@pytest.mark.parametrize("fault", [RuntimeError("set_tag: connection reset"), SweepInterrupted(signal.SIGINT)],
                         ids=["error", "ctrl-c"])
def test_a_failure_recording_on_a_new_parent_ends_it(store, monkeypatch, fault):
    """The parent exists (created RUNNING) from the first write of the sweep on: a write that fails there, or a
    Ctrl-C, ends it (FAILED or KILLED, with the reason) and releases the lease."""
    name = f"rec-{uuid.uuid4().hex[:8]}"
    record = SweepRecord(store, "lease-unit")

    def failing_set_tag(*args, **kwargs):
        raise fault

    monkeypatch.setattr(record.client, "set_tag", failing_set_tag)  # the store refuses this write
    with pytest.raises(type(fault)), sweep_runs(record, "lease-unit", name, {"pad.stage": "ablation"}, False,
                                                Signals(), lambda parent_id: None,
                                                lambda parent_id: record_data(record, parent_id, {"m": "abc"})):
        pytest.fail("the body runs only once the parent is recorded")
    run = MlflowClient(store).get_run(_parent(store, name).info.run_id)
    status, reason = ("KILLED", "interrupted by SIGINT (Ctrl-C)") if isinstance(fault, SweepInterrupted) else \
        ("FAILED", "RuntimeError: set_tag: connection reset")
    assert run.info.status == status and run.data.tags["pad.reason"] == reason
    assert not Claims(store).on(sweep_subject(store, name))


def test_a_refused_existing_parent_is_left_as_it_was(store):
    """Checks of an existing parent read only: a refusal neither reopens nor tags it."""
    name = f"ref-{uuid.uuid4().hex[:8]}"
    record = SweepRecord(store, "lease-unit")
    parent_id = record.parent(name, {"pad.stage": "ablation"})
    record.finalize(parent_id, "FINISHED", "completed")
    before = MlflowClient(store).get_run(parent_id)

    def refuse(found: str) -> None:
        assert found == parent_id
        raise SweepError("sweep", name, "declaration changed", "use a new --sweep-name")

    with pytest.raises(SweepError), sweep_runs(record, "lease-unit", name, {"pad.stage": "ablation"}, False,
                                               Signals(), refuse,
                                               lambda parent_id: pytest.fail("nothing is recorded on a refused")):
        pytest.fail("refused")
    after = MlflowClient(store).get_run(parent_id)
    assert (after.info.status, after.data.tags) == (before.info.status, before.data.tags)
    assert not Claims(store).on(sweep_subject(store, name))
