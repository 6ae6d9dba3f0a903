"""The demo's pretrained tiny CLIP: cached by its config, built once under concurrency, loaded through the same
``--pretrained PATH`` check and loader a user's weights take, and pretrained on a corpus disjoint from the benchmark."""

from __future__ import annotations

import ast
import multiprocessing
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pad_core.config import from_flat, scale_overrides
from pad_core.config.scales import TINY_MODEL
from pad_core.data.synthetic import captions, iris
from pad_core.errors import ConfigError
from pad_core.models import create_model
from pad_core.models.factory import check_backbone_weights
from pad_core.pretrain.cache import pretrained_weights, weights_path
from pad_core.pretrain.spec import DEMO_PRETRAIN, PretrainSpec

TINY = PretrainSpec(steps=2, batch_size=4, warmup_steps=1)  # seconds, not minutes
ROOT = Path(__file__).resolve().parents[2]
PAD_WORDS = ("live", "real", "fake", "spoof", "attack", "print", "lens", "bona", "fide", "iris", "eye", "face")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PADSWEEP_CACHE", str(tmp_path))
    return tmp_path


def test_weights_are_cached_by_config_and_reused(cache):
    first = pretrained_weights(TINY, log=lambda m: None)
    again = pretrained_weights(TINY, log=lambda m: None)
    assert first.built and not again.built and again.path == first.path
    assert first.path.parent == cache / "pretrained" and first.path.with_suffix(".json").is_file()
    mtime = first.path.stat().st_mtime_ns
    for change in ({"steps": 3}, {"lr": 5e-4}, {"seed": 1}, {"batch_size": 5}, {"corpus_version": 99}):
        other = replace(TINY, **change)
        assert weights_path(other) != first.path, change  # every field is in the key
    assert pretrained_weights(replace(TINY, seed=1), log=lambda m: None).built
    assert first.path.stat().st_mtime_ns == mtime  # another config never rewrites this file
    assert not [p for p in (cache / "pretrained").iterdir() if p.name.startswith(".")]  # no temporary files left


def test_spec_refuses_what_cannot_train():
    with pytest.raises(ConfigError, match="pretrain.batch_size"):
        PretrainSpec(batch_size=1)
    with pytest.raises(ConfigError, match="pretrain.model"):
        PretrainSpec(model="no-such-clip")


@pytest.mark.parametrize("row", [{"moe.kind": "none", "moe.soft.mask_rates": (), "loss.moe_cosine_w": 0.0}, {}],
                         ids=["vanilla", "mmoe"])
def test_file_loads_through_the_pretrained_path_and_the_model_starts_from_it(cache, row):
    path = pretrained_weights(TINY, log=lambda m: None).path
    check_backbone_weights(TINY_MODEL, str(path))  # the driver's --pretrained check (names, shapes, architecture)
    from pad_core.models.variants import VARIANTS

    cfg = from_flat({**VARIANTS.get("mmoe"), **scale_overrides("smoke"), **row, "backbone.pretrained": str(path)})
    model = create_model(cfg)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    built = model.clip.state_dict()
    # MoE wrappers keep the block's MLP as ``.mlp.mlp`` (parallel mode): the file's MLP is there unchanged
    renamed = {k: built.get(k, built.get(k.replace(".mlp.", ".mlp.mlp."))) for k in saved}
    assert all(v is not None for v in renamed.values())
    assert all(torch.equal(saved[k], renamed[k]) for k in saved)
    assert float(model.clip.logit_scale.detach()) == float(saved["logit_scale"])  # the pretrained temperature, not init


def test_suede_routed_experts_copy_the_pretrained_mlp(cache):
    """SUEDE's regime: the shared expert is the block's pretrained MLP, and copy_mlp upcycles it into every routed
    expert at init, after the weights are loaded (not a copy of a random MLP)."""
    path = pretrained_weights(TINY, log=lambda m: None).path
    saved = torch.load(path, map_location="cpu", weights_only=True)
    cfg = from_flat({**scale_overrides("smoke"), "moe.kind": "sue", "moe.sue.routed_init": "copy_mlp",
                     "backbone.pretrained": str(path)})
    model = create_model(cfg)
    assert model.visual_moe
    for wrapper in model.visual_moe:
        block = next(k.split(".mlp.")[0] for k, v in saved.items() if v is not None and k.endswith("mlp.c_fc.weight")
                     and torch.equal(v, wrapper.mlp.c_fc.weight))
        assert torch.equal(wrapper.mlp.c_proj.weight, saved[f"{block}.mlp.c_proj.weight"])  # the shared expert
        for i in range(wrapper.moe.experts.w1.shape[0]):
            assert torch.equal(wrapper.moe.experts.w1[i], saved[f"{block}.mlp.c_fc.weight"].T)
            assert torch.equal(wrapper.moe.experts.b2[i], saved[f"{block}.mlp.c_proj.bias"])


def test_corpus_is_disjoint_from_the_benchmark():
    size = 32
    bench = [iris.render_row(r, size) for r in iris.plan_rows(scale=0.01, seed=0)[:150]]
    corpus = [captions.pair(DEMO_PRETRAIN.seed, i, size)[0] for i in range(150)]
    as_bytes = lambda img: np.round(np.asarray(img, np.float32) * 255).astype(np.uint8).tobytes()  # noqa: E731
    assert not {as_bytes(b) for b in bench} & {as_bytes(c) for c in corpus}
    # another generator: the corpus module renders with nothing from a benchmark's renderers
    imported = {n.module for n in ast.walk(ast.parse(Path(captions.__file__).read_text()))
                if isinstance(n, ast.ImportFrom)}
    assert not [m for m in imported if m and m.startswith("pad_core.data")]
    # and its captions never name what the benchmark classifies
    texts = " ".join(captions.pair(DEMO_PRETRAIN.seed, i, 8)[1] for i in range(300)).lower().split()
    assert not set(texts) & set(PAD_WORDS)
    # distinct pairs: contrastive negatives are rarely the same caption
    assert len({captions.pair(0, i, 8)[1] for i in range(128)}) > 120


def _build(cache_dir: str, queue) -> None:
    import os

    os.environ["PADSWEEP_CACHE"] = cache_dir
    result = pretrained_weights(TINY, log=lambda m: None)
    queue.put((str(result.path), result.built))


def test_two_concurrent_builders_build_one_file(cache):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build, args=(str(cache), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert len({path for path, _ in results}) == 1
    assert sorted(built for _, built in results) == [False, True]  # one built it, the other waited and reused it
    files = sorted(p.name for p in (cache / "pretrained").iterdir() if not p.name.endswith(".lock"))
    assert files == sorted([Path(results[0][0]).name, Path(results[0][0]).with_suffix(".json").name])


def test_cli_prints_the_weights_path(cache):
    env = {"PADSWEEP_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "pad_core", "pretrain", "--steps", "1"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.is_file() and path == weights_path(replace(DEMO_PRETRAIN, steps=1))


def test_local_train_at_demo_scale_without_the_demo_backbone_is_refused():
    """`python -m pad_core train` at the demo scale (its default) fine-tunes like the sweeps do: from random init
    the trained text prototypes collapse, so it refuses and names the pretraining command."""
    proc = subprocess.run([sys.executable, "-m", "pad_core", "train", "--variant", "clip"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "python -m pad_core pretrain" in proc.stderr, proc.stderr
