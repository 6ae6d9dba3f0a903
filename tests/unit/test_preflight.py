"""scripts/test.sh's disk preflight: what earlier runs left is removed (only that), then too little room is refused
with the folder, the figures and the fix."""

import os
import subprocess
import sys
import time

import pytest

from tests import preflight


def _session(root, n: int, lock_pid: int | None):
    path = root / "pytest-of-someone" / f"pytest-{n}"
    (path / "rehearsal-s30").mkdir(parents=True)
    if lock_pid is not None:
        (path / ".lock").write_text(str(lock_pid))
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_what_nothing_will_use_again_is_removed(tmp_path):
    live = _session(tmp_path, 7, os.getpid())  # a session still running
    done, killed = _session(tmp_path, 5, None), _session(tmp_path, 6, _dead_pid())
    old, fresh = tmp_path / "padckpt-0000001-abcdef", tmp_path / "padckpt-0000002-ghijkl"
    other = tmp_path / "someone-elses-folder"
    for path in (old, fresh, other):
        path.mkdir()
    past = time.time() - (preflight.OLD_HOURS + 1) * 3600
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    removed = preflight.reclaim(tmp_path, "someone", time.time())
    assert sorted(removed) == sorted(map(str, (done, killed, old)))
    assert live.exists() and fresh.exists() and other.exists() and not done.exists() and not old.exists()


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
