"""Every exit of a sweep driver ends what it started, in ablation and search mode alike.

From the moment a sweep's parent run is created or marked running (``sweep_runs``; the checks that refuse an existing
parent only read it, before), each way out of the driver ends it, a failure while recording the sweep's declaration
and data on it included: done (FINISHED, with the table), an error (FAILED, ``pad.reason`` = the error: no cell
finished, storage that stopped accepting writes, anything), Ctrl-C or SIGTERM (KILLED, ``pad.reason`` = the
signal). Child runs still running end KILLED with the reason, and a later run of the same command reopens them and
resumes their checkpoints. The sweep's lease and its trials' cell claims are released on every one of these paths
(``pad_core/integrations/lease.py``), quickly and with signals held off whatever MLflow does.

Signals. SIGINT and SIGTERM raise ``SweepInterrupted`` (a BaseException: nothing on the way mistakes it for an
error of the sweep) wherever the driver is, except inside ``tuner.fit``: there a first Ctrl-C asks Tune to stop
(it stops the trials and saves its state). Tune's own SIGINT handler is kept out: it made ``fit`` return as if
the sweep had ended (the sweep then published a table and marked itself FINISHED) and printed a
``Tuner.restore`` hint that does not resume a padsweep sweep. The interruption is raised once ``fit`` returns. A
second Ctrl-C, or SIGTERM (``ray job stop`` sends SIGKILL 3 s later), stops at once. The driver then prints the
command that resumes the sweep, the same command line, and exits 128 + the signal number (130 for Ctrl-C).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from mlflow.exceptions import MlflowException

from pad_core.errors import PadError, SweepError
from pad_core.integrations.lease import Holding, drop_cell_claims, lease_sweep, releasing
from pad_core.integrations.mlflow_runs import SweepRecord

STOPS = (signal.SIGINT, signal.SIGTERM)
NAMES = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGTERM: "SIGTERM"}
TUNE_SIGINT = "TUNE_DISABLE_SIGINT_HANDLER"
INTERRUPTED = "interrupted"  # pad.outcome of runs a stopped driver ended (not in the table; resumed by a re-run)


class SweepInterrupted(BaseException):
    """SIGINT or SIGTERM reached the sweep driver."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return NAMES.get(self.signum, signal.Signals(self.signum).name)


class Signals:
    """How the driver answers SIGINT/SIGTERM while a sweep runs (one per process: a search's confirm stage, a sweep
    in a sweep, shares it)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.in_fit = False
        self.installed = False
        self.ending: Callable[[str], None] | None = None  # ends the sweep's runs now (set while they are open)

    def install(self) -> dict:
        """Handle SIGINT and SIGTERM here; the handlers replaced. Again after ``ray.init``, which sets a SIGTERM
        handler of its own (``sys.exit``: the sweep would end FAILED, or abort, instead of KILLED with 143)."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        self.installed = True
        return {s: signal.signal(s, self.handle) for s in STOPS}

    def reinstall(self) -> None:
        if self.installed:
            self.install()

    def handle(self, signum: int, frame) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        tune_stop = signal.getsignal(signal.SIGUSR1)  # Tune's stop handler, once fit has set up its loop
        if first and self.in_fit and callable(tune_stop):  # raising inside Tune's loop would leave it half-done
            if signum != signal.SIGINT and self.ending:  # ray job stop sends SIGKILL 3 s after SIGTERM
                self.ending(f"interrupted by {NAMES.get(signum, signum)}")
            print(f"\n[padsweep] {NAMES.get(signum, signum)}: stopping the trials (Ctrl-C again to stop at once)",
                  file=sys.stderr, flush=True)
            tune_stop(signum, frame)
            return
        raise SweepInterrupted(signum)


_ACTIVE: list[Signals] = []


@contextlib.contextmanager
def driver_signals() -> Iterator[Signals]:
    """SIGINT/SIGTERM handled as above for the body; an interruption prints the resume command and exits 128+n."""
    if _ACTIVE or threading.current_thread() is not threading.main_thread():
        yield _ACTIVE[-1] if _ACTIVE else Signals()  # nested: the outer one prints and exits
        return
    signals = Signals()
    previous = signals.install()
    _ACTIVE.append(signals)
    try:
        yield signals
    except BaseException as caught:
        err = interruption(caught, signals)
        if err is None:
            raise
        print(f"\n[padsweep] interrupted by {err.name}: the sweep stopped (finished cells are kept; interrupted "
              f"ones resume from their checkpoints). Resume it with:\n  {resume_command()}", file=sys.stderr,
              flush=True)
        raise SystemExit(128 + err.signum) from None
    finally:
        _ACTIVE.pop()
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def interruption(err: BaseException | None, signals: Signals) -> SweepInterrupted | None:
    """The interruption behind ``err``: a handler's exception raised inside a Cython call of Ray arrives wrapped
    ("SystemError: ... returned a result with an exception set"), and whatever fails after a signal (Ctrl-C in a
    terminal also reaches a local Ray's processes) fails because of it."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, SweepInterrupted):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return SweepInterrupted(signals.signum) if signals.signum is not None else None


def resume_command() -> str:
    """The command line that started this driver: running it again resumes the sweep."""
    return shlex.join(["python", *sys.argv])


class _DropRestoreHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tuner.restore" not in record.getMessage()


def fit(tuner, signals: Signals):
    """``tuner.fit()``; a Ctrl-C during it stops Tune gracefully, then raises ``SweepInterrupted``."""
    if not signals.installed:  # not the main thread: no signal reaches this sweep's code
        return tuner.fit()
    hint, tune_log = _DropRestoreHint(), logging.getLogger("ray.tune.tune")
    before_env, before_usr1 = os.environ.get(TUNE_SIGINT), signal.getsignal(signal.SIGUSR1)
    os.environ[TUNE_SIGINT] = "1"
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)  # a stale handler of an earlier fit must not be taken for Tune's
    tune_log.addFilter(hint)
    signals.in_fit = True
    try:
        result = tuner.fit()
    finally:
        signals.in_fit = False
        tune_log.removeFilter(hint)
        signal.signal(signal.SIGUSR1, before_usr1 if before_usr1 is not None else signal.SIG_DFL)
        if before_env is None:
            os.environ.pop(TUNE_SIGINT, None)
        else:
            os.environ[TUNE_SIGINT] = before_env
    if signals.signum is not None:
        raise SweepInterrupted(signals.signum)
    return result


@contextlib.contextmanager
def sweep_lease(record: SweepRecord, experiment: str, sweep: str, wait: bool) -> Iterator[Holding]:
    """Hold the sweep's lease for the body (refused, or waited for, while another driver holds it)."""
    try:
        lease = lease_sweep(record.tracking_uri, record.experiment_id, experiment, sweep, wait=wait,
                            command=resume_command())
    except MlflowException as err:
        raise SweepError("--mlflow-uri", record.tracking_uri, "the sweep's lease cannot be recorded in the MLflow "
                         f"model registry ({str(err).splitlines()[0][:300]})",
                         "use a SQL-backed MLflow server (bash scripts/services.sh up) on which this user may add "
                         "model versions (basic auth: EDIT on the registered model padsweep.leases)") from None
    with lease:
        yield lease


@contextlib.contextmanager
def sweep_runs(record: SweepRecord, experiment: str, sweep: str, tags: dict[str, str], wait: bool,
               signals: Signals, check: Callable[[str], None], mark: Callable[[str], None]
               ) -> Iterator[tuple[str, Holding]]:
    """The sweep's lease, then its parent run for the body: ``check`` (reads only) refuses an existing parent as it
    is; the parent is then created or reopened and ``mark`` records on it, every exit from there on ending it."""
    with sweep_lease(record, experiment, sweep, wait) as lease:  # a second driver stops here
        found = record.find_parent(sweep)
        if found is not None:
            check(found.info.run_id)
        reopen = (lambda: found.info.run_id) if found is not None else (lambda: record.parent(sweep, tags))
        with ending_runs(record, reopen, lease, signals) as parent_id:
            mark(parent_id)
            yield parent_id, lease


@contextlib.contextmanager
def ending_runs(record: SweepRecord, open_parent: Callable[[], str], lease: Holding, signals: Signals
                ) -> Iterator[str]:
    """The parent (``open_parent``: found, or created RUNNING) is marked running for the body; every exit once it
    exists, reopening it included, ends the parent and its children in flight."""
    parent_id = ""
    try:
        parent_id = open_parent()
        signals.ending = lambda reason: end_runs(record, parent_id, "KILLED", reason)
        record.reopen(parent_id)  # RUNNING again, without the outcome and reason of an earlier stop
        yield parent_id
    except BaseException as err:
        stopped = interruption(err, signals)
        if stopped is not None:
            if parent_id:
                end_runs(record, parent_id, "KILLED", f"interrupted by {stopped.name}")
            raise stopped from None
        if parent_id and not lease.lost:  # else the driver that took the sweep over owns its runs now
            end_runs(record, parent_id, "FAILED", failure(err))
        raise
    finally:
        signals.ending = None
        if parent_id and not lease.lost:
            with contextlib.suppress(Exception):
                drop_cell_claims(record.tracking_uri, parent_id)  # quickly, signals held (lease.releasing)


def check_lease(lease: Holding, sweep: str) -> None:
    if lease.lost:
        raise SweepError("sweep", sweep, f"{lease.lost}; this driver stopped without touching the sweep's runs",
                         "nothing to do: the driver that took the sweep over goes on with it")


def failure(err: BaseException) -> str:
    text = str(err).strip() if isinstance(err, PadError) else f"{type(err).__name__}: {str(err).strip()}"
    return text.splitlines()[0][:2000] if text else type(err).__name__


def end_runs(record: SweepRecord, parent_id: str, status: str, reason: str) -> None:
    """End the children still running (KILLED) and the parent (``status``), each with the reason. Signals wait
    meanwhile (a second Ctrl-C must not leave half of them running); MLflow gets one quick try per call."""
    try:
        with releasing():
            for run in record.children(parent_id):
                if run.info.status == "RUNNING":
                    record.finalize(run.info.run_id, "KILLED", INTERRUPTED, f"the sweep driver stopped while this "
                                    f"cell ran ({reason}); the same command resumes it from its last checkpoint")
            record.finalize(parent_id, status, INTERRUPTED if status == "KILLED" else "failed", reason)
    except Exception as err:  # noqa: BLE001 - the error that ended the sweep is the one to report
        print(f"[padsweep] could not mark the sweep's runs ended in MLflow ({type(err).__name__}: {err}); the next "
              "run of the same command does", file=sys.stderr, flush=True)
