"""CLIP-style preprocessing of real (full-resolution, non-square) images, and the DataLoader settings."""

import fsspec
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from pad_core.data.dataset import ManifestImages, clip_resize
from pad_core.data.loaders import eval_loader, loader_options

SIZE = 32


def load(tmp_path, array: np.ndarray) -> torch.Tensor:
    """``array`` through ManifestImages as a real image file, in [0, 1] (mean 0, std 1: no normalisation)."""
    Image.fromarray(array).save(tmp_path / "img.png")
    frame = pd.DataFrame({"path": ["img.png"], "label": [1]})
    images = ManifestImages(frame, fsspec.filesystem("file"), str(tmp_path), image_size=SIZE, mean=(0.0,) * 3,
                            std=(1.0,) * 3, augment=False)
    return images[0][0]


def grey(values: np.ndarray) -> np.ndarray:
    return np.repeat((values * 255).astype(np.uint8)[..., None], 3, axis=-1)


@pytest.mark.parametrize("side", [4 * SIZE + 7, 6 * SIZE + 3, 8 * SIZE - 5])
def test_fine_patterns_are_lowpassed_not_aliased(tmp_path, side):
    """Regression: bicubic without antialiasing sampled a 1-pixel checkerboard into large false patterns."""
    yy, xx = np.mgrid[:side, :side]
    checker = ((yy + xx) % 2).astype(np.float32)  # mean 0.5, all energy at the highest frequency
    x = load(tmp_path, grey(checker))
    assert x.shape == (3, SIZE, SIZE)
    alias = float((x - 0.5).pow(2).mean().sqrt())  # the ideal downscale is flat 0.5 (up to PNG rounding)
    assert alias < 0.03, alias
    old = F.interpolate(torch.from_numpy(checker)[None, None], size=(SIZE, SIZE), mode="bicubic", align_corners=False)
    assert float((old - 0.5).pow(2).mean().sqrt()) > 0.1  # what the old resize produced on the same pattern


def test_non_square_images_keep_their_aspect(tmp_path):
    """Regression: a 2:1 frame was squashed to a square; now the short side is resized and the centre cropped."""
    h, w, radius = 200, 400, 80
    yy, xx = np.mgrid[:h, :w]
    disc = (((yy - h / 2 + 0.5) ** 2 + (xx - w / 2 + 0.5) ** 2) <= radius**2).astype(np.float32)
    x = load(tmp_path, grey(disc))[0] > 0.5
    rows, cols = np.flatnonzero(x.any(1).numpy()), np.flatnonzero(x.any(0).numpy())
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    expected = 2 * radius * SIZE / h  # the short side (h) maps to SIZE
    assert abs(height - expected) <= 1.5 and abs(width - expected) <= 1.5, (height, width)
    assert abs((rows[0] + rows[-1]) / 2 - (SIZE - 1) / 2) <= 1 and abs((cols[0] + cols[-1]) / 2 - (SIZE - 1) / 2) <= 1


def test_images_at_the_model_size_are_unchanged(tmp_path):
    """Synthetic benchmarks are rendered at the model size: their pixels (and cached results) must not move."""
    x = torch.rand(3, SIZE, SIZE)
    assert clip_resize(x, SIZE) is x
    array = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    assert torch.equal(load(tmp_path, array), torch.from_numpy(array / np.float32(255.0)).permute(2, 0, 1))


def test_loader_options_and_kept_evaluation_loaders():
    assert loader_options(0, "cpu") == {"num_workers": 0, "pin_memory": False}
    opts = loader_options(8, "cuda:0")
    assert opts.pop("multiprocessing_context").get_start_method() == "forkserver"
    assert opts == {"num_workers": 8, "pin_memory": True, "persistent_workers": True, "prefetch_factor": 4}
    data = torch.utils.data.TensorDataset(torch.arange(10.0))
    first = eval_loader(data, list(range(0, 10, 2)), batch_size=2, num_workers=1, device="cpu")
    assert first is eval_loader(data, list(range(0, 10, 2)), batch_size=2, num_workers=1, device="cpu")
    assert first.persistent_workers and [b[0].tolist() for b in first] == [[0.0, 2.0], [4.0, 6.0], [8.0]]
    assert first is not eval_loader(data, list(range(1, 10, 2)), batch_size=2, num_workers=1, device="cpu")


class _ParentOfWorker(torch.utils.data.Dataset):
    """Each item is the parent pid of the process that loads it."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> int:
        import os

        return os.getppid()


def test_loader_workers_are_not_forked_from_the_trainer():
    """A worker forked from the training process keeps a copy-on-write image of it, and every optimiser step then
    duplicates the pages it rewrites: 4 workers of a 7.5 GB ViT-B/16 trainer filled 23 GB. Workers must come from
    a fork server, whose pages the trainer never writes."""
    import os

    loader = torch.utils.data.DataLoader(_ParentOfWorker(), batch_size=1, **loader_options(1, "cpu"))
    parents = {int(b) for b in loader}
    assert parents and os.getpid() not in parents


def test_closing_a_runs_evaluation_loaders_ends_their_workers():
    """Kept evaluation loaders hold their dataset, so without an explicit close a process that trains run after run
    (a reused Tune trial) kept every earlier run's datasets and worker processes."""
    from pad_core.data.loaders import close_eval_loaders

    data = torch.utils.data.TensorDataset(torch.arange(6.0))
    loader = eval_loader(data, [0, 1, 2], batch_size=2, num_workers=1, device="cpu")
    assert [b[0].tolist() for b in loader] == [[0.0, 1.0], [2.0]]
    workers = list(loader._iterator._workers)
    assert workers and all(w.is_alive() for w in workers)
    assert close_eval_loaders(data) == 1
    for w in workers:
        w.join(timeout=10)
    assert not any(w.is_alive() for w in workers)
    assert eval_loader(data, [0, 1, 2], batch_size=2, num_workers=1, device="cpu") is not loader
    assert close_eval_loaders(data) == 1 and close_eval_loaders(data) == 0
