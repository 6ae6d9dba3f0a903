"""Fault 6 (docs/RELIABILITY.md) on a real S3-compatible server (SeaweedFS on loopback): a cell's checkpoint
upload rides out an S3 outage shorter than its retry schedule; a longer one ends in a clear failure after the
bounded retries, and the last complete checkpoint is still there, intact, when the server returns."""

import json
import os
import threading
import time

import pyarrow.fs
import pytest
import s3fs

from pad_core.integrations import services
from pad_core.integrations.cell_checkpoints import CellCheckpoints, CheckpointStorageUnavailable
from pad_core.integrations.services.s3 import s3_env, vacuum

pytestmark = [pytest.mark.slow]
KEY, SECRET = "AKIACHECKPOINTS", "checkpoint-secret-123"
STATE = b"model state " * 1000


@pytest.fixture()
def s3(tmp_path, monkeypatch):
    root = tmp_path / "s3"
    box = {"svc": services.start_seaweedfs(root, KEY, SECRET, buckets=("ckpts",))}
    for k, v in s3_env(box["svc"], KEY, SECRET).items():
        monkeypatch.setenv(k, v)
    # fsspec hands back a cached S3FileSystem whatever the environment says now: an earlier test's instance would
    # talk to that test's (stopped) server
    s3fs.S3FileSystem.clear_instance_cache()
    box["restart"] = lambda: box.update(svc=services.start_seaweedfs(root, KEY, SECRET, port=_port(box["svc"])))
    yield box
    services.stop(box["svc"])


def _port(svc) -> int:
    return int(svc.url.rsplit(":", 1)[1])


def test_checkpoints_survive_a_short_s3_outage_and_fail_clearly_after_a_long_one(s3, tmp_path, capsys):
    local = tmp_path / "ckpt"
    local.mkdir()
    (local / "state.pt").write_bytes(STATE)
    cells = CellCheckpoints("s3://ckpts/padsweep", "sweep", "row|P1|s0|abc", backoff_s=(2.0, 4.0, 8.0, 16.0))
    cells.save(str(local), 3)

    services.stop(s3["svc"])  # down for ~5 s (plus the server's start-up): within the 30 s of retries
    restarter = threading.Timer(5.0, s3["restart"])
    restarter.start()
    cells.save(str(local), 6)
    restarter.join()
    assert cells.latest() == "ckpt-0000006"
    assert "checkpoint upload at s3://ckpts/padsweep failed" in capsys.readouterr().out

    services.stop(s3["svc"])  # down for longer than the retries
    quick = CellCheckpoints("s3://ckpts/padsweep", "sweep", "row|P1|s0|abc", backoff_s=(0.5, 0.5))
    quick.last_saved = "ckpt-0000006"
    with pytest.raises(CheckpointStorageUnavailable, match=r"checkpoint upload at s3://ckpts/padsweep failed 3 times "
                       r".*last complete checkpoint: ckpt-0000006\. Fix: check that the storage answers"):
        quick.save(str(local), 9)

    s3["restart"]()
    assert cells.latest() == "ckpt-0000006"  # the failed upload never became the latest
    (tmp_path / "restored").mkdir()
    cells.download("ckpt-0000006", str(tmp_path / "restored"))
    assert (tmp_path / "restored" / "state.pt").read_bytes() == STATE


def _checkpoint(folder, step: int, best_step: int, best: bytes | None) -> str:
    folder.mkdir()
    (folder / "state.pt").write_bytes(STATE)
    (folder / "meta.json").write_text(json.dumps({"step": step, "best_step": best_step, "world_size": 1}))
    if best is not None:
        (folder / "best.pt").write_bytes(best)
    return str(folder)


def test_lean_checkpoints_upload_in_the_background_keep_one_best_file_and_are_deleted_at_the_end(s3, tmp_path):
    """The best weights are uploaded once, under their step, beside the checkpoints; a later checkpoint that did
    not change them refers to that file and a download restores it as best.pt. Uploads run one at a time in the
    background; an upload that failed raises at the next save. A finished cell's folder is deleted."""
    cells = CellCheckpoints("s3://ckpts/padsweep", "sweep", "row|P1|s0|lean", backoff_s=(0.5,))

    def listing() -> list[str]:  # top-level names holding files (SeaweedFS lists emptied folders too; S3 does not)
        cells._forget_listings()
        found = cells.fs.get_file_info(pyarrow.fs.FileSelector(cells.root, recursive=True, allow_not_found=True))
        return sorted({i.path[len(cells.root) + 1:].split("/")[0] for i in found if i.type == pyarrow.fs.FileType.File})

    first = _checkpoint(tmp_path / "c3", 3, 3, b"best at 3")
    cells.save_async(first, 3)
    cells.save_async(_checkpoint(tmp_path / "c6", 6, 3, None), 6)  # waits for step 3's upload first
    cells.wait()
    assert not os.path.exists(first)  # an uploaded folder is removed locally
    assert listing() == ["LATEST", "best-0000003.pt", "ckpt-0000006"]
    restored = tmp_path / "restored"
    restored.mkdir()
    cells.download(cells.latest(), str(restored))
    assert (restored / "best.pt").read_bytes() == b"best at 3" and (restored / "state.pt").read_bytes() == STATE
    cells.save_async(_checkpoint(tmp_path / "c9", 9, 9, b"best at 9"), 9)
    cells.wait()
    assert listing() == ["LATEST", "best-0000009.pt", "ckpt-0000009"]

    services.stop(s3["svc"])
    cells.save_async(_checkpoint(tmp_path / "c12", 12, 9, None), 12)  # returns at once; the failure comes later
    with pytest.raises(CheckpointStorageUnavailable, match="last complete checkpoint: ckpt-0000009"):
        cells.save_async(_checkpoint(tmp_path / "c15", 15, 9, None), 15)
    s3["restart"]()
    assert cells.latest() == "ckpt-0000009"
    cells.delete()
    assert cells.latest() is None and listing() == []


def _disk_bytes(root) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def test_deleted_checkpoints_give_their_disk_back_once_vacuumed_and_nothing_lands_in_tmp(s3, tmp_path):
    """A local S3 server keeps a deleted object's bytes in its volume until a vacuum: the rehearsal vacuums as it
    goes, or every ViT-B/16 checkpoint it ever wrote would stay on the disk. The server keeps its own files (logs,
    chunk cache, sockets) out of the temp folder and removes them when stopped."""
    data = tmp_path / "s3" / "s3-data"
    local = tmp_path / "ckpt"
    local.mkdir()
    (local / "state.pt").write_bytes(os.urandom(48 << 20))
    cells = CellCheckpoints("s3://ckpts/sweeps", "vacuum", "cell")
    cells.save(str(local), 3)
    written = _disk_bytes(data)
    cells.delete()
    assert _disk_bytes(data) > written - (8 << 20)  # deleted, but its bytes are still there
    deadline = time.monotonic() + 60  # the filer frees a deleted file's chunks in the background
    while _disk_bytes(data) > written - (40 << 20) and time.monotonic() < deadline:
        vacuum(s3["svc"])
        time.sleep(1)
    assert _disk_bytes(data) < written - (40 << 20)
    sockets = [p for p in s3["svc"].scratch if p.endswith(".sock")]
    assert len(sockets) == 7 and all(os.path.exists(p) for p in sockets)  # the names are the ones weed opened
    services.stop(s3["svc"])
    assert not any(os.path.exists(p) for p in s3["svc"].scratch)
