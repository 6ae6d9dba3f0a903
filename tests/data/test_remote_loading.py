"""Datasets read from ``s3://`` on a real S3-compatible server (SeaweedFS on loopback), as at paper scale: forked
loader workers (each opens its own filesystem), the node-local image cache, and the parallel preflight."""

import io
import multiprocessing
import pickle
import shutil
import time

import numpy as np
import pandas as pd
import pytest
import s3fs
import torch
from PIL import Image
from torch.utils.data import DataLoader, Subset

from pad_core.config import DataCfg, from_flat
from pad_core.data import prepare, read_manifest
from pad_core.data.families import make_dataset
from pad_core.data.flash import make_flash_dataset
from pad_core.data.manifest import unreadable_files
from pad_core.data.multimodal import make_multimodal_dataset
from pad_core.data.synthetic import materialize
from pad_core.integrations import services
from pad_core.integrations.services.s3 import s3_env

pytestmark = pytest.mark.usefixtures("one_thread")
KEY, SECRET = "AKIAPADDATA", "pad-data-secret-123"
MEAN, STD = (0.5,) * 3, (0.25,) * 3
FORK = multiprocessing.get_context("fork")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The server, its client environment, an empty image cache, and a bucket holding a small iris manifest."""
    root = tmp_path_factory.mktemp("s3")
    box = {"svc": services.start_seaweedfs(root, KEY, SECRET, buckets=("pad",)), "root": root}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in s3_env(box["svc"], KEY, SECRET).items():
            mp.setenv(k, v)
        cache = tmp_path_factory.mktemp("padcache")
        mp.setenv("PADSWEEP_CACHE", str(cache))
        box["cache"] = cache / "images"
        box["fs"] = s3fs.S3FileSystem(skip_instance_cache=True)
        upload_iris(box["fs"])
        yield box
        services.stop(box["svc"])


def restart(box) -> None:
    port = int(box["svc"].url.rsplit(":", 1)[1])
    box["svc"] = services.start_seaweedfs(box["root"], KEY, SECRET, port=port)


def upload_iris(fs) -> None:
    """Two rows per (split, subset, label) of the synthetic iris benchmark, plus multimodal/flash columns."""
    local = read_manifest(materialize("synthetic:iris", scale=0.01, size=32, seed=0))
    frame = local.frame.groupby(["split", "subset", "label"]).head(2).reset_index(drop=True)
    for rel in frame["path"]:
        fs.put_file(local.full_path(rel), f"pad/iris/{rel}")
    fs.pipe("pad/iris/manifest.csv", frame.to_csv(index=False).encode())
    # BIG-MoE rows: IR and depth are the same PNGs (what matters here is that they are read from S3)
    multimodal = frame.assign(path_ir=frame["path"], path_depth=frame["path"])
    fs.pipe("pad/iris/mm.csv", multimodal.to_csv(index=False).encode())


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def upload_flash(fs, rows: int = 6) -> str:
    rng = np.random.default_rng(0)
    records = []
    for i in range(rows):
        fs.pipe(f"pad/flash/s{i}.png", png(rng.integers(0, 255, (8 * 16, 16, 3), dtype=np.uint8)))
        live = i % 2
        if live:
            fs.pipe(f"pad/flash/d{i}.png", png(rng.integers(0, 255, (16, 16), dtype=np.uint8)))
        records.append({"path": f"s{i}.png", "label": live, "attack_type": "none" if live else "print",
                        "subset": "A", "device": "d", "split": "test", "subject": f"s{i}",
                        "path_depth": f"d{i}.png" if live else ""})
    fs.pipe("pad/flash/manifest.csv", pd.DataFrame(records).to_csv(index=False).encode())
    return "s3://pad/flash/manifest.csv"


def clip_cfg(manifest: str = "s3://pad/iris/manifest.csv", **data):
    flat = {f"data.{k}": v for k, v in data.items()}
    return from_flat({"backbone.name": "pad-tiny-vit", "backbone.pretrained": "", "data.manifest": manifest,
                      "data.num_workers": 2, **flat})


def dev_dataset(cfg):
    data = prepare(cfg.data)
    m = data.manifest
    return make_dataset(cfg, data.dev, m.fs, m.root, split="dev", protocol=data.protocol, mean=MEAN, std=STD)


def read_all(dataset, workers: int = 2, indices=None) -> list:
    """Every item, through forked workers (the Linux default at paper scale), in index order."""
    subset = Subset(dataset, indices if indices is not None else range(len(dataset)))
    loader = DataLoader(subset, batch_size=3, num_workers=workers, multiprocessing_context=FORK if workers else None)
    return [batch for batch in loader]


def assert_same(a: list, b: list) -> None:
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_s3_datasets_of_every_family_load_in_forked_and_spawned_workers(s3, monkeypatch):
    """Regression: the datasets held the parent's s3fs instance; a forked worker raised "not fork-safe"."""
    monkeypatch.setenv("PADSWEEP_CACHE_IMAGES", "off")  # every read goes to S3 (the cache is tested below)
    clip = dev_dataset(clip_cfg())
    bigmoe_cfg = from_flat({"family": "bigmoe", "backbone.name": "pad-tiny-vit", "backbone.pretrained": ""})
    mm = read_manifest("s3://pad/iris/mm.csv")
    bigmoe = make_multimodal_dataset(bigmoe_cfg, mm.frame, mm.fs, mm.root, split="test", protocol=None,
                                     mean=MEAN, std=STD)
    fl = read_manifest(upload_flash(s3["fs"]))
    flash = make_flash_dataset(from_flat({"family": "atr", "atr.image_size": 32, "atr.depth_bins": 256}), fl.frame,
                               fl.fs, fl.root, split="test", protocol=None, mean=MEAN, std=STD)
    for dataset in (clip, bigmoe, flash):
        serial = read_all(dataset, workers=0)
        assert_same(read_all(dataset), serial)
        # spawned workers (and Ray) get the dataset pickled: it must carry no live filesystem
        assert_same(read_all(pickle.loads(pickle.dumps(dataset)), workers=0), serial)


def test_remote_images_cross_the_network_once_per_node(s3, capsys):
    """The second read of a split comes from the node cache: it succeeds with the S3 server stopped."""
    dataset = dev_dataset(clip_cfg(on_corrupt="unchecked"))
    shutil.rmtree(s3["cache"], ignore_errors=True)  # the preflight of other tests warmed it
    # each index twice, interleaved, so both workers fetch (and cache) the same files at the same time
    twice = [i for i in range(len(dataset)) for _ in range(2)]
    started = time.monotonic()
    first = read_all(dataset, indices=twice)
    uncached = time.monotonic() - started
    cached_files = [p for p in s3["cache"].rglob("*") if p.is_file()]
    assert len([p for p in cached_files if p.suffix == ".png"]) >= len(dataset)
    assert not [p for p in cached_files if p.name.startswith(".part-")]  # no half-written entries left

    services.stop(s3["svc"])
    try:
        started = time.monotonic()
        second = read_all(pickle.loads(pickle.dumps(dataset)), indices=twice)
        cached = time.monotonic() - started
    finally:
        restart(s3)
    assert_same(second, first)
    with capsys.disabled():
        print(f"\n[measure] {len(twice)} reads of {len(dataset)} images, 2 workers: uncached {uncached:.2f} s, "
              f"cached (server stopped) {cached:.2f} s")


def test_parallel_preflight_finds_the_same_corrupt_files_as_serial(s3, monkeypatch):
    fs = s3["fs"]
    frame = pd.read_csv(io.BytesIO(fs.cat_file("pad/iris/manifest.csv")), dtype=str, keep_default_na=False)
    for rel in frame["path"]:
        fs.copy(f"pad/iris/{rel}", f"pad/bad/{rel}")
    corrupt = [frame["path"][3], frame["path"][10]]
    fs.pipe(f"pad/bad/{corrupt[0]}", fs.cat_file(f"pad/bad/{corrupt[0]}")[:40])  # cut short by a failed copy
    fs.pipe(f"pad/bad/{corrupt[1]}", b"<html>503 Service Unavailable</html>")
    fs.pipe("pad/bad/manifest.csv", frame.to_csv(index=False).encode())
    monkeypatch.setenv("PADSWEEP_CACHE_IMAGES", "off")  # both runs read from S3
    manifest = read_manifest("s3://pad/bad/manifest.csv")
    serial = unreadable_files(manifest, manifest.frame, threads=1)
    assert sorted(serial) == sorted(corrupt)
    assert unreadable_files(manifest, manifest.frame) == serial  # remote: a thread pool, same order
    sample = unreadable_files(manifest, manifest.frame, sample=8)
    assert sample == unreadable_files(manifest, manifest.frame, sample=8) and set(sample) <= set(corrupt)
    data = prepare(DataCfg(manifest="s3://pad/bad/manifest.csv", on_corrupt="skip"))
    assert sorted(data.skipped) == sorted(corrupt)
