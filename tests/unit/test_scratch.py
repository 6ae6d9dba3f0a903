"""Scratch folders: named for their owner, removed by their owner, reaped when their owner was killed."""

import os
import subprocess
import sys
import textwrap

import pytest

from pad_core import scratch


@pytest.fixture()
def tmp_root(tmp_path, monkeypatch):
    """An empty temp folder of its own: the reaper sees only what the test puts there."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    return tmp_path


def _owned_by_child(root, kind: str, then: str) -> str:
    """A child Python makes a scratch folder, then exits its way (``then``), leaving the folder behind."""
    code = textwrap.dedent(f"""
        import os, signal, tempfile
        tempfile.tempdir = {str(root)!r}
        from pad_core import scratch
        path = scratch.make({kind!r})
        open(os.path.join(path, "state.pt"), "wb").write(b"x" * 1000)
        print(path, flush=True)
        {then}
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.getcwd())
    return proc.stdout.strip()


def test_a_folder_names_its_owner_and_a_with_block_removes_it_whatever_happens(tmp_root):
    with pytest.raises(RuntimeError), scratch.folder("resume") as path:
        assert os.path.basename(path).startswith(f"padsweep-resume-{os.getpid()}-")
        assert os.path.dirname(path) == str(tmp_root)
        raise RuntimeError("training failed")
    assert not os.path.exists(path)


def test_a_killed_owners_folder_is_reaped_by_the_next_one_made_and_a_live_ones_is_kept(tmp_root):
    killed = _owned_by_child(tmp_root, "ckpt", "os.kill(os.getpid(), signal.SIGKILL)")
    assert os.path.isdir(killed)
    mine = scratch.make("run")
    assert not os.path.exists(killed) and os.path.isdir(mine)
    assert scratch.reap() == [] and os.path.isdir(mine)


def test_a_recycled_pid_is_not_the_owner(tmp_root):
    """The pid is alive (this process) but started at another time: its folder's owner is gone."""
    start = scratch.process_start(os.getpid())
    if start == 0:
        pytest.skip("no /proc here: liveness is by pid alone")
    stale = tmp_root / f"padsweep-ckpt-{os.getpid()}-{start + 1}-{scratch.host_tag()}-abc123"
    stale.mkdir()
    assert scratch.reap() == [str(stale)] and not stale.exists()


def test_other_hosts_and_other_names_are_never_touched(tmp_root):
    other_host = tmp_root / "padsweep-ckpt-999999999-1-00000000-abc"  # a pid that cannot be alive, host 00000000
    unrelated = tmp_root / "padckpt-0000001-xyz"
    for path in (other_host, unrelated):
        path.mkdir()
    if scratch.host_tag() == "00000000":
        pytest.skip("this host's tag is the test's made-up one")
    assert scratch.reap() == [] and other_host.exists() and unrelated.exists()


def test_a_kind_that_cannot_be_parsed_back_is_refused():
    with pytest.raises(ValueError, match="lowercase letters"):
        scratch.make("best-1")


def test_fresh_path_is_free_for_a_rename_and_owned(tmp_root):
    source = tmp_root / "ckpt-0000001"
    source.mkdir()
    (source / "meta.json").write_text("{}")
    target = scratch.fresh_path("ckpt")
    assert not os.path.exists(target)
    os.rename(source, target)
    assert os.path.exists(os.path.join(target, "meta.json")) and scratch.reap() == []


def test_a_normal_exit_after_removing_leaves_nothing(tmp_root):
    path = _owned_by_child(tmp_root, "artifact", "import shutil; shutil.rmtree(path)")
    assert path and not os.path.exists(path) and os.listdir(tmp_root) == []
