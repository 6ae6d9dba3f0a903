"""The parsed-scores cache: an entry cut short (a full disk, a killed writer) is parsed again, never an error that
fails the table; a write that fails leaves no temporary file behind."""

import numpy as np

from pad_core.ablation.uncertainty import RunScores
from pad_core.integrations import scores_cache


def scores() -> RunScores:
    n = 6
    return RunScores(np.array([f"u{i}" for i in range(n)]), np.linspace(0, 1, n), np.array([0, 1] * 3),
                     np.array(["print"] * n), np.array([f"s{i // 2}" for i in range(n)]), "subject", 0.5)


def test_a_truncated_entry_reads_as_absent(tmp_path):
    name = scores_cache.entry_name(b"bytes", per_video=False)
    scores_cache.store(tmp_path, name, scores())
    whole = scores_cache.load(tmp_path, name, 0.5, "pooled", "live")
    assert whole is not None and list(whole.units) == list(scores().units)
    data = (tmp_path / name).read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        (tmp_path / name).write_bytes(data[:cut])
        assert scores_cache.load(tmp_path, name, 0.5, "pooled", "live") is None


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scores_cache.np, "savez", full_disk)
    scores_cache.store(tmp_path, "entry.npz", scores())
    assert list(tmp_path.iterdir()) == []
