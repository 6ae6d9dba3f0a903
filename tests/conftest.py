"""Fixtures shared by every test folder."""

import os

# Read by Ray when it is imported: in single-node mode the node IP (and every Ray listener) is loopback. The
# services and subprocess sweeps get it in their environment; this process needs it before `import ray` too,
# for the sweeps the integration tests run in-process.
from pad_core.integrations.services.base import LOOPBACK_RAY  # noqa: E402 - imports no Ray

for _key, _value in LOOPBACK_RAY.items():
    os.environ.setdefault(_key, _value)

import re  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from pad_core import scratch  # noqa: E402
from tests import preflight  # noqa: E402

# What padsweep and the services it starts may write into the temp folder. A suite that leaves these behind fills
# the disk of the machine it runs on (a staged ViT-B/16 checkpoint is ~6 GB); CI ran out of space that way.
# (the names older versions used come from the preflight, which removes their stale folders)
OURS = re.compile(rf"^(padsweep-|seaweedfs-|weed\.)|{preflight.OLD_NAMES.pattern}")
_BEFORE = pytest.StashKey[set]()


def pytest_sessionstart(session):
    session.stash[_BEFORE] = set(os.listdir(tempfile.gettempdir()))


def _in_use(path: str) -> bool:
    """Held by a live process other than this session (another test session's server, on a shared machine), or
    gone already (removed by its owner since the listing)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return True
    if stat.S_ISSOCK(mode):
        with socket.socket(socket.AF_UNIX) as probe:
            return probe.connect_ex(path) == 0
    if os.path.exists(os.path.join(path, "data", "postmaster.pid")):  # a Postgres service's folder, running
        return True
    owner = scratch.owner(os.path.basename(path))
    return owner is not None and owner[0] != os.getpid() and scratch.owner_alive(*owner)


def pytest_sessionfinish(session, exitstatus):
    """Fail a passing session that left scratch behind. Folders of killed processes (a trial actor Ray stopped, a
    lost node) are reaped as padsweep itself reaps them, and counted; what is left after that is a leak."""
    reaped = scratch.reap()
    new = set(os.listdir(tempfile.gettempdir())) - session.stash[_BEFORE]
    left = sorted(n for n in new if OURS.match(n) and not _in_use(os.path.join(tempfile.gettempdir(), n)))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter and reaped:
        reporter.write_sep("-", f"scratch: {len(reaped)} folders of killed processes reaped")
    if left and exitstatus == 0:
        if reporter:
            reporter.write_sep("=", f"scratch left in {tempfile.gettempdir()} by this session", red=True)
            reporter.write_line(", ".join(left))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: intra-op threads cost more than they save (9x slower on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """One real MLflow server per session holding an earlier sweep, for the refusal tests (tests/refusals.py): a
    refused command may not change it (each refusal compares it before and after)."""
    from tests.refusals import earlier_sweep_server

    with earlier_sweep_server(tmp_path_factory.mktemp("refusal-store")) as url:
        yield url
