"""Leases: one driver per sweep, one trial per cell, elected on the MLflow server.

Why the model registry
----------------------
MLflow's tracking API has no compare-and-set: two drivers that both look for a sweep's parent run, find none and
create one, or two trials that both find a cell without a run and create it, each believe they own it. What an
SQL-backed MLflow does order is the versions of a registered model: a new version is numbered ``max(version) + 1``
inside the transaction that inserts it (a concurrent insert of the same number fails on the primary key and is
retried), and a deleted version keeps its number. So a version created later has a higher number than every
version that existed when it was created.

The election
------------
A claim is a new version of the registered model ``padsweep.leases``, tagged with what it claims (a sweep:
experiment + sweep name; a cell: parent run + cell key, hashed into ``pad.subject`` for the server-side filter) and
who claims it (host, boot id, pid, process start, start time, heartbeat). Having added its claim, a claimant lists
the claims on the same subject: the live claim with the lowest number holds it. Of two claims A < B, B's listing
follows B's claim, which follows A's, so B sees A and yields; A holds whether or not its listing saw B. One
holder, whatever the timing, and a driver that waits (``--wait``) keeps its claim: drivers are served in order.

A claim stops counting when it is
- released: its holder deletes it on every exit path it lives through (done, error, Ctrl-C, SIGTERM);
- dead: made on this host (same hostname, boot id and PID namespace) by a process that is gone, or whose pid
  another process now has: judged at once, so a driver SIGKILLed here is taken over by the next one at once. A claim
  made in another PID namespace (another container on the host network), or whose process /proc does not show
  (hidepid), is judged by its heartbeat only;
- expired: its heartbeat, rewritten every ``HEARTBEAT_S`` by a thread of the holder, is older than ``EXPIRY_S``
  (a driver SIGKILLed on another host, a host that lost power, a process stopped for that long).
A claimant that finds such a claim below its own deletes it and says so ("taking over").

Assumptions: a SQL-backed MLflow (the file store numbers versions without a transaction); the hosts' clocks agree
within a small fraction of ``EXPIRY_S`` (only the expiry reads clocks); the MLflow user may add versions to
``padsweep.leases`` (with basic auth: EDIT on it). A claimant beats its own claim while it waits, and a holder at
once. Releases (and the drops of a claimant that gives up) make one quick request each with SIGINT/SIGTERM held off:
an exit is not held up by an MLflow outage (the claim then expires), and a second Ctrl-C does not skip them. A holder
that cannot heartbeat for ``EXPIRY_S`` (an MLflow outage, a stopped process) may be taken over: its heartbeat thread
then finds its claim gone (``Holding.lost``), and the cell claims keep its trials from training a cell that another
driver's live trial holds.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

MODEL = "padsweep.leases"
SOURCE = "padsweep://lease/claim"  # a model version must name a source; a claim stores nothing there
HEARTBEAT_S = float(os.environ.get("PADSWEEP_LEASE_HEARTBEAT_S", "10"))
EXPIRY_S = float(os.environ.get("PADSWEEP_LEASE_EXPIRY_S", "120"))
POLL_S = 2.0  # how often a waiting claimant looks again
GONE = "RESOURCE_DOES_NOT_EXIST"
RELEASE_JOIN_S = 2.0  # how long a release waits for a heartbeat in flight (its thread is a daemon; it may go on)


@dataclass(frozen=True)
class Claim:
    version: int
    tags: dict[str, str]

    def who(self) -> str:
        """The holder as a person looks for it: host, pid, start time, and the Ray job or command."""
        t = self.tags
        job = f", Ray job {t['pad.ray_job']}" if t.get("pad.ray_job") else ""
        return f"host {t.get('pad.host')}, pid {t.get('pad.pid')}, started at {t.get('pad.started')}{job}"

    def heartbeat_age(self, now: float | None = None) -> float:
        return (now or time.time()) - float(self.tags.get("pad.heartbeat", 0))


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as src:
            return src.read().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    """This process's PID namespace ("pid:[inode]"; "" where /proc cannot tell): pids mean something only within it."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _process_start(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot ("" where /proc cannot tell): tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as src:
            return src.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _ray_job() -> str:
    from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR

    config = json.loads(os.environ.get(RAY_JOB_CONFIG_JSON_ENV_VAR, "{}"))
    return str((config.get("metadata") or {}).get("job_submission_id", ""))


def holder_tags() -> dict[str, str]:
    """Who claims: this process, findable by a person (host, pid, start time) and by a program (boot id, start)."""
    pid = os.getpid()
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {"pad.host": socket.gethostname(), "pad.boot": _boot_id(), "pad.pid": str(pid),
            "pad.proc": _process_start(pid), "pad.pidns": _pid_namespace(), "pad.started": started,
            "pad.heartbeat": f"{time.time():.3f}", "pad.ray_job": _ray_job()}


def why_not_live(claim: Claim, now: float | None = None) -> str:
    """"" while ``claim`` holds; else why it no longer does (its process is gone, or its heartbeat expired)."""
    t = claim.tags
    if _same_pids(t):
        pid, started = int(t.get("pad.pid", "0")), t.get("pad.proc", "")
        now_started = _process_start(pid)  # "": /proc hides it (hidepid): alive as far as this claimant can tell
        if not _alive(pid) or (started and now_started and now_started != started):
            return f"its process {pid} on {t['pad.host']} is gone"
    age = claim.heartbeat_age(now)
    return f"no heartbeat for {age:.0f} s (expiry {EXPIRY_S:.0f} s)" if age > EXPIRY_S else ""


def _same_pids(tags: dict[str, str]) -> bool:
    """The claim's pid names a process this claimant can see: same host, boot and PID namespace (two containers on
    the host network share hostname and boot id, not their pids; a claim without a namespace is not judged)."""
    here = _pid_namespace()
    return (tags.get("pad.host") == socket.gethostname() and tags.get("pad.boot", "") == _boot_id()
            and bool(here) and tags.get("pad.pidns") == here)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return pid > 0


def subject_id(subject: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(subject, sort_keys=True).encode()).hexdigest()[:32]


class Claims:
    """Claims as versions of the registered model ``MODEL`` on the tracking server at ``tracking_uri``."""

    def __init__(self, tracking_uri: str) -> None:
        self.client = MlflowClient(tracking_uri, registry_uri=tracking_uri)  # the lease lives with the runs

    def add(self, subject: dict[str, str], extra: dict[str, str]) -> Claim:
        tags = {**subject, **extra, "pad.subject": subject_id(subject)}
        for attempt in range(5):
            try:
                made = self.client.create_model_version(MODEL, SOURCE, tags=tags, await_creation_for=0)
                return Claim(int(made.version), tags)
            except MlflowException as err:
                if err.error_code == GONE:
                    self._create_model()
                elif "Model Version creation error" not in str(err) or attempt == 4:
                    raise  # the store retried concurrent inserts 3 times; so do we, then give up
        raise AssertionError("unreachable")

    def _create_model(self) -> None:
        try:
            self.client.create_registered_model(MODEL, description="padsweep's leases: one version per claim of a "
                                                "sweep (by a driver) or a cell (by a trial); pad_core/integrations/"
                                                "lease.py. Not a model.")
        except MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def on(self, subject: dict[str, str]) -> list[Claim]:
        """Live and dead (not released) claims on ``subject``, oldest first."""
        found = self.search(f"tags.`pad.subject` = '{subject_id(subject)}'")
        return sorted((c for c in found if _matches(c, subject)), key=lambda c: c.version)

    def search(self, condition: str) -> list[Claim]:
        found, token = [], None
        while True:
            try:
                page = self.client.search_model_versions(f"name = '{MODEL}' and {condition}", max_results=1000,
                                                         page_token=token)
            except MlflowException as err:
                if err.error_code == GONE:  # no claim was ever made on this server
                    return []
                raise
            found += [Claim(int(v.version), dict(v.tags)) for v in page]
            token = page.token
            if not token:
                return found

    def drop(self, version: int) -> None:
        try:
            self.client.delete_model_version(MODEL, str(version))
        except MlflowException as err:
            if err.error_code != GONE:  # released or taken over already
                raise

    def let_go(self, version: int, what: str) -> None:
        """Release a claim on the way out: quickly whatever MLflow does (``releasing``); never raises."""
        try:
            with releasing():
                self.drop(version)
        except Exception as err:  # noqa: BLE001 - released by expiry then; the exit goes on
            print(f"[padsweep] {what}: could not release the claim ({type(err).__name__}); it expires in "
                  f"{EXPIRY_S:.0f} s", flush=True)

    def beat(self, version: int) -> bool:
        """Renew the heartbeat; False when the claim is gone (taken over after an expiry)."""
        try:
            self.client.set_model_version_tag(MODEL, str(version), "pad.heartbeat", f"{time.time():.3f}")
        except MlflowException as err:
            if err.error_code == GONE:
                return False
            raise
        return True


@contextlib.contextmanager
def releasing():
    """A release: MLflow gets one quick request (no retries, a short timeout; an outage may be why the driver ends,
    and the claim expires anyway) and, on the main thread, SIGINT/SIGTERM wait (ignored) until it is done: a second
    Ctrl-C must not skip it. The same setting as the end of a sweep's runs (session.end_runs)."""
    from pad_core.integrations.run_logger import QUICK
    from pad_core.integrations.services.base import environ

    held = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        with environ(QUICK):
            yield
    finally:
        for s, handler in held.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)  # None: a handler set outside Python


def _matches(claim: Claim, subject: dict[str, str]) -> bool:
    return all(claim.tags.get(k) == v for k, v in subject.items())


class Holding:
    """A claim won: a daemon thread renews its heartbeat until ``release``; ``lost`` says why it was lost."""

    def __init__(self, claims: Claims, claim: Claim, what: str) -> None:
        self.claims, self.claim, self.what, self.lost = claims, claim, what, ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"padsweep-lease-{claim.version}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        """At once (the claim's last beat may be as old as a claimant's wait), then every ``HEARTBEAT_S``."""
        while not self._stop.is_set():
            try:
                if not self.claims.beat(self.claim.version) and not self._stop.is_set():
                    self.lost = (f"{self.what}: taken over by another claimant after this one sent no heartbeat for "
                                 f"{EXPIRY_S:.0f} s")
                    print(f"[padsweep] {self.lost}", flush=True)
                    return
            except Exception:  # noqa: BLE001 - MLflow unreachable: beat again next period (expiry allows for it)
                pass
            self._stop.wait(HEARTBEAT_S)

    def release(self) -> None:
        """Stop beating and delete the claim, quickly whatever MLflow does (``releasing``); never raises."""
        self._stop.set()
        self._thread.join(timeout=RELEASE_JOIN_S)  # a beat after the drop finds the claim gone and says nothing
        self.claims.let_go(self.claim.version, self.what)

    def __enter__(self) -> Holding:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def standing(claims: Claims, subject: dict[str, str], mine: Claim, what: str,
             earlier_self: Callable[[Claim], bool] = lambda c: False) -> Claim | None:
    """The live claim below ``mine`` that holds ``subject``, or None when ``mine`` holds it. Dead and expired claims
    below it (and ``earlier_self`` ones: earlier attempts of the same claimant) are deleted, saying so."""
    for other in claims.on(subject):
        if other.version >= mine.version:
            return None
        why = "an earlier attempt of the same trial" if earlier_self(other) else why_not_live(other)
        if not why:
            return other
        claims.drop(other.version)
        print(f"[padsweep] {what}: taking over from {other.who()}: {why}", flush=True)
    return None


def lease_sweep(tracking_uri: str, experiment_id: str, experiment: str, sweep: str, *, wait: bool,
                command: str) -> Holding:
    """Hold ``sweep`` of ``experiment`` for this driver. Another live holder: refuse naming it, or with ``wait``
    keep this claim in line (heartbeating) until it is the oldest live one."""
    claims = Claims(tracking_uri)
    subject = {"pad.lease": "sweep", "pad.experiment": experiment_id, "pad.sweep": sweep}
    what, extra = f"sweep {sweep!r}", {**holder_tags(), "pad.command": command[:2000]}
    mine = claims.add(subject, extra)
    try:
        waiting = False
        while (owner := standing(claims, subject, mine, what)) is not None:
            if not wait:
                raise busy(owner, sweep, experiment)
            if not waiting:
                print(f"[padsweep] {what} is being run by another driver ({owner.who()}): waiting for it to end "
                      "(--wait)", flush=True)
                waiting = True
            mine = wait_in_line(claims, subject, mine, extra)
    except BaseException:
        claims.let_go(mine.version, what)
        raise
    return Holding(claims, mine, what)


def wait_in_line(claims: Claims, subject: dict[str, str], mine: Claim, extra: dict[str, str]) -> Claim:
    """Wait ``POLL_S`` keeping this claim's heartbeat fresh (a wait may last ``EXPIRY_S``: an unbeaten claim would be
    taken for expired the moment it wins); one taken over meanwhile (the host slept) joins the line again."""
    time.sleep(POLL_S)
    return mine if claims.beat(mine.version) else claims.add(subject, extra)


def busy(owner: Claim, sweep: str, experiment: str):
    from pad_core.errors import SweepError

    t = owner.tags
    job = f" (a Ray job: ray job stop {t['pad.ray_job']})" if t.get("pad.ray_job") else ""
    return SweepError("sweep", sweep, f"already being run by another driver in MLflow experiment "
                      f"{experiment!r}: {owner.who()}, last heartbeat {owner.heartbeat_age():.0f} s ago "
                      f"(command: {t.get('pad.command', '?')})",
                      f"wait for it to end, or pass --wait to start when it does; to stop it press Ctrl-C in its "
                      f"terminal or run `kill -INT {t.get('pad.pid')}` on {t.get('pad.host')}{job}; a driver that "
                      f"died on another host is taken over once its heartbeat is {EXPIRY_S:.0f} s old")


def claim_cell(tracking_uri: str, parent_id: str, key: str, trial_id: str, what: str) -> Holding | Claim:
    """This trial's hold on its cell, or the claim of the live trial (another driver's) that holds it.

    A holder that looks alive is watched until its heartbeat moves (it is alive: the cell is its) or it expires
    (a trial killed with its driver on another host): a resumed sweep does not skip the cells of a dead driver.
    Claims of the same Tune trial made under the same driver (a retry) are earlier attempts of this one; a driver
    that took the sweep over and restored its search reuses the trial ids, but not the driver (``pad.driver``)."""
    claims = Claims(tracking_uri)
    subject = {"pad.lease": "cell", "pad.parent": parent_id, "pad.cell": key}
    extra = {**holder_tags(), "pad.trial": trial_id, "pad.driver": driver_identity()}
    mine = claims.add(subject, extra)
    same_attempt = lambda c: all(c.tags.get(k) == extra[k] for k in ("pad.trial", "pad.driver"))  # noqa: E731
    seen: dict[int, str] = {}
    try:
        while (owner := standing(claims, subject, mine, what, same_attempt)) is not None:
            beat = owner.tags.get("pad.heartbeat", "")
            if seen.setdefault(owner.version, beat) != beat:
                claims.let_go(mine.version, what)
                return owner
            mine = wait_in_line(claims, subject, mine, extra)
    except BaseException:
        claims.let_go(mine.version, what)
        raise
    return Holding(claims, mine, what)


def driver_identity() -> str:
    """The sweep driver a trial runs for: its Ray job in its Ray cluster (session), which only that driver process
    has (a driver that takes a sweep over is another job, in this cluster or another). Outside Ray: this process."""
    import ray

    if ray.is_initialized():
        context = ray.get_runtime_context()
        return f"ray {context.get_session_name()} job {context.get_job_id()}"
    return f"process {socket.gethostname()} {_boot_id()} {_pid_namespace()} {os.getpid()} {_process_start(os.getpid())}"


def drop_cell_claims(tracking_uri: str, parent_id: str) -> None:
    """Release every cell claim under ``parent_id``: its driver ends, and with it the trials (a trial killed
    with the driver cannot release its own; on another host it would hold the cell until its claim expired)."""
    claims = Claims(tracking_uri)
    with releasing():
        for claim in claims.search(f"tags.`pad.parent` = '{parent_id}'"):
            if claim.tags.get("pad.lease") == "cell":
                claims.drop(claim.version)
