"""The torch-free homes of rules ``--plan`` asks (docs/BENCHMARKS.md §13) give what the model code gives: the shape
of every open_clip model read from its config file equals open_clip's own, and every torchvision-style name resolves
to the network its module declares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import open_clip

import pad_core.models.backbones.clip  # noqa: F401  (registers the project's model configs with open_clip)
from pad_core.models.backbone_shapes import backbone_info, clip_model_config
from pad_core.models.torchvision_names import TV_BACKBONES, Network

ROOT = Path(__file__).resolve().parents[2]


def test_every_open_clip_config_read_without_open_clip_is_open_clips_own(monkeypatch):
    """Read from the files alone: open_clip's own lookup (the fallback for names that are no file) is made to fail,
    so a broken file lookup cannot hide behind it."""
    from pad_core.models.backbone_shapes import PROJECT_CONFIGS, _open_clip_configs

    # the names with a config file (names registered in memory by add_model_config, e.g. the audit's tiny twins,
    # have none: open_clip's own lookup answers for them, as it should)
    files = {path.stem for folder in (PROJECT_CONFIGS, _open_clip_configs()) for path in folder.glob("*.json")}
    names = [name for name in open_clip.list_models() if name in files]
    assert "pad-tiny-vit" in names and "ViT-B-16-quickgelu" in names and len(names) > 100
    expected = {n: open_clip.get_model_config(n) for n in names}

    def not_asked(name):
        raise AssertionError(f"{name}: asked open_clip instead of reading its config file")

    monkeypatch.setattr(open_clip, "get_model_config", not_asked)
    assert {n: clip_model_config(n) for n in names} == expected


def test_a_name_open_clip_does_not_know_is_refused_as_before():
    assert clip_model_config("no-such-model") is None
    try:
        backbone_info("no-such-model")
    except Exception as err:  # ConfigError naming the key and the known names
        assert "backbone.name" in str(err) and "resnet50" in str(err)
    else:
        raise AssertionError("an unknown backbone was accepted")


def test_every_torchvision_name_resolves_to_its_declared_network():
    for name in TV_BACKBONES.list():
        spec = TV_BACKBONES.get(name)
        assert isinstance(spec.net, Network) and spec.feature_dim > 0 and spec.depth > 0, name
        assert backbone_info(name).visual_width == spec.feature_dim


def test_shapes_and_weights_rule_load_no_torch():
    probe = ("import sys\nfrom pad_core.models.backbone_shapes import backbone_info\n"
             "from pad_core.models.initial_weights import starts_from_random_init\n"
             "from pad_core.config import from_flat\n"
             "assert backbone_info('ViT-B-16-quickgelu').visual_layers == 12\n"
             "assert backbone_info('pad-tiny-vit').visual_layers > 0\n"
             "assert starts_from_random_init(from_flat({'backbone.name': 'resnet-tiny', "
             "'backbone.imagenet_weights': 'torchvision', 'backbone.norm_stats': 'imagenet', "
             "'head.kind': 'linear', 'moe.kind': 'none'}))\n"
             "print(*sorted(m for m in ('torch', 'open_clip', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
