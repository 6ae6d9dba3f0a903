"""scripts/test.sh's disk preflight: what earlier runs left is removed (only that), then too little room is refused
with the folder, the figures and the fix."""

import os
import subprocess
import sys
import time

import pytest

from pad_core import scratch
from tests import preflight


def _session(root, n: int, lock: str | None, age_s: float = 3600.0):
    path = root / "pytest-of-someone" / f"pytest-{n}"
    (path / "rehearsal-s30").mkdir(parents=True)
    if lock is not None:
        (path / ".lock").write_text(lock)
    _age(path, age_s)
    return path


def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_what_nothing_will_use_again_is_removed(tmp_path):
    old_s = (preflight.OLD_HOURS + 1) * 3600
    kept = [_session(tmp_path, 7, str(os.getpid())),  # a session still running
            _session(tmp_path, 8, None, age_s=5),  # just made: its lock comes next
            _session(tmp_path, 9, "")]  # its lock being written
    removed_expected = [_session(tmp_path, 5, None), _session(tmp_path, 6, str(_dead_pid()))]
    old, fresh, busy = (tmp_path / f"padckpt-000000{i}-abcdef" for i in (1, 2, 3))
    owned = tmp_path / f"padsweep-artifact-{os.getpid()}-0-{scratch.host_tag()}-abc"  # a live owner's, old or not
    other = tmp_path / "someone-elses-folder"
    for path in (old, fresh, busy, owned, other):
        path.mkdir()
    (busy / "ckpt-0000009").mkdir()  # a run of an old version still writing into it
    for path in (old, busy, owned, other):
        _age(path, old_s)
    removed = preflight.reclaim(tmp_path, "someone", time.time())
    assert sorted(removed) == sorted(map(str, (*removed_expected, old)))
    assert all(p.exists() for p in (*kept, fresh, busy, owned, other))


def test_too_little_room_is_refused_with_the_figures_and_the_fix(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert preflight.main(["--need-gb", "0"]) == 0
    assert preflight.main(["--need-gb", "1e9"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "needs 1e+09 GB" in err and "TMPDIR" in err and "PADSWEEP_TEST_FREE_GB" in err


@pytest.mark.parametrize("value", ["abc", ""])
def test_an_unreadable_need_is_refused_by_argparse(value):
    with pytest.raises(SystemExit):
        preflight.main(["--need-gb", value])
