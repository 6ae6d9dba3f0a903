"""Fixtures shared by every test folder."""

import os

# Read by Ray when it is imported: in single-node mode the node IP (and every Ray listener) is loopback. The
# services and subprocess sweeps get it in their environment; this process needs it before `import ray` too,
# for the sweeps the integration tests run in-process.
from pad_core.integrations.services.base import LOOPBACK_RAY  # noqa: E402 - imports no Ray

for _key, _value in LOOPBACK_RAY.items():
    os.environ.setdefault(_key, _value)

import pytest  # noqa: E402
import torch  # noqa: E402


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
