"""Weights for every row (issue 17): CLIP rows take ``--pretrained``, torchvision rows ``--imagenet-weights`` (a local
file or torchvision's own cache, never downloaded); the flags reach every row; at a paper scale a row that would start
from random init is refused before any trial unless ``--allow-random-init``.

Each backbone family loads a file saved here and is checked to start from exactly those tensors. Command-line cases
run the real sweep command line (sweeps/rows.py over the rows below, sweeps/mmoe_backbones.py) with an unreachable
Ray address and a real MLflow server that must stay unchanged.
"""

from __future__ import annotations

import contextlib
import io
import re
import time

import open_clip
import pytest
import torch
import torchvision

from pad_core.ablation import Row
from pad_core.audit.inactive import inactive_keys
from pad_core.config import from_flat, scale_overrides
from pad_core.errors import ConfigError
from pad_core.models import create_model, validate_model_cfg
from pad_core.models.backbones.torchvision_nets import cache_file
from pad_core.models.backbones.weights import quiet_root_logger
from pad_core.models.initial_weights import starts_from_random_init, weights_key
from pad_core.models.torchvision_names import TV_BACKBONES
from pad_core.models.variants import VARIANTS
from tests.refusals import ROOT, UNREACHABLE_RAY, inputs_of, store_state

TINY = "pad-tiny-vit"
SMOKE = scale_overrides("smoke")
REFUSAL_SECONDS: dict[str, float] = {}
LINEAR = {"backbone.norm_stats": "imagenet", "head.kind": "linear"}
# sweeps/rows.py --rows tests.unit.test_weights_every_row:ROWS --base ...:BASE: a tiny CLIP row, a tiny torchvision
# row, and a row that pins its own weights (the kind of delta that used to shadow the flags)
BASE = {"backbone.name": TINY}
ROWS = (Row("clip", "tiny CLIP", {}),
        Row("resnet", "resnet-tiny", {"backbone.name": "resnet-tiny", **LINEAR}),
        Row("pinned", "vit-tiny, pins random init", {"backbone.name": "vit-tiny", **LINEAR,
                                                     "backbone.pretrained": "", "backbone.imagenet_weights": ""}))
RESNET50_ROWS = (Row("clip", "tiny CLIP", {}), Row("resnet50", "ResNet50", VARIANTS.get("resnet50")))


@pytest.fixture(scope="module", autouse=True)
def print_refusal_times():
    yield
    for case, seconds in sorted(REFUSAL_SECONDS.items()):
        print(f"{case:60s} {seconds:6.2f} s")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No ambient cluster, and a torchvision cache of this test's own (empty unless the test fills it)."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.chdir(ROOT)


def seeded(build, seed: int = 7) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)  # a seed no model build here uses: equal tensors mean loaded, not re-initialised alike
    with quiet_root_logger():
        return {k: v.clone() for k, v in build().state_dict().items()}


def clip_state() -> dict[str, torch.Tensor]:
    return seeded(lambda: open_clip.create_model(TINY, pretrained=None))


def torchvision_state(name: str) -> dict[str, torch.Tensor]:
    """A whole classifier's state dict, as torchvision's files hold it (its ImageNet layer included)."""
    state = seeded(TV_BACKBONES.get(name).build)
    extra = {"fc.weight": torch.randn(1000, 512), "fc.bias": torch.randn(1000)} if name.startswith("resnet") else \
        {"heads.head.weight": torch.randn(1000, 128), "heads.head.bias": torch.randn(1000)}
    return {**state, **extra}


def save(state: dict[str, torch.Tensor], path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return str(path)


def assert_same(module_state: dict[str, torch.Tensor], saved: dict[str, torch.Tensor], prefix: str = "") -> None:
    """Every tensor of ``module_state`` is exactly the saved one under ``prefix``."""
    assert module_state, "nothing to compare"
    for key, value in module_state.items():
        torch.testing.assert_close(value, saved[prefix + key], rtol=0, atol=0, msg=f"{prefix}{key}")


# --- each backbone family starts from exactly the saved tensors ------------------------------------------------------


def test_clip_rows_load_an_open_clip_state_dict(tmp_path):
    saved = clip_state()
    path = save(saved, tmp_path / "clip.bin")
    cfg = from_flat({**SMOKE, **VARIANTS.get("clip"), "backbone.pretrained": path})
    validate_model_cfg(cfg)
    assert_same(create_model(cfg).clip.state_dict(), saved)
    mmoe = create_model(from_flat({"moe.kind": "soft"}, cfg))  # SoftMoE layers added at init, beside the MLPs
    kept = {k: v for k, v in mmoe.clip.state_dict().items() if k in saved}
    assert "visual.conv1.weight" in kept and len(kept) > len(saved) // 2  # wrapped blocks are renamed
    assert_same(kept, saved)


@pytest.mark.parametrize("name", ["resnet-tiny", "vit-tiny"])
def test_torchvision_rows_load_imagenet_weights_from_a_file(name, tmp_path):
    saved = torchvision_state(name)
    path = save(saved, tmp_path / f"{name}.pth")
    cfg = from_flat({**SMOKE, **VARIANTS.get("resnet50"), "backbone.name": name, "backbone.imagenet_weights": path})
    validate_model_cfg(cfg)
    assert_same(create_model(cfg).backbone.state_dict(), saved)


def test_one_weights_folder_serves_rows_of_several_networks(tmp_path):
    """A table with ResNet and ViT rows cannot share one file path: a folder holds each network's file (torchvision's
    cache name or <name>.pth), and a network it holds nothing for is refused with the names looked for."""
    folder = tmp_path / "imagenet"
    saved = {name: torchvision_state(name) for name in ("resnet-tiny", "vit-tiny")}
    save(saved["resnet-tiny"], folder / "resnet-tiny.pth")
    save(saved["vit-tiny"], folder / "vit-tiny.safetensors.pt")  # not a name the folder rule reads
    for name in ("resnet-tiny", "vit-tiny"):
        cfg = from_flat({**SMOKE, **VARIANTS.get("resnet50"), "backbone.name": name,
                         "backbone.imagenet_weights": str(folder)})
        if name == "vit-tiny":
            with pytest.raises(ConfigError, match=r"holds no weights for vit-tiny.*vit-tiny\.pth"):
                validate_model_cfg(cfg)
            save(saved[name], folder / "vit-tiny.pth")
            validate_model_cfg(cfg)
        assert_same(create_model(cfg).backbone.state_dict(), saved[name])
    meso = from_flat({**SMOKE, **VARIANTS.get("resnet50"), "backbone.name": "meso4",
                      "backbone.imagenet_weights": str(folder)})
    assert not starts_from_random_init(meso)  # trained from scratch by its paper: nothing to look for, no refusal
    validate_model_cfg(meso)


def test_torchvision_cache_file_is_read_as_torchvision_names_it(tmp_path):
    """'torchvision' (the default) is the IMAGENET1K_V1 file torchvision's weights= API keeps in $TORCH_HOME."""
    path = cache_file("ResNet50_Weights.IMAGENET1K_V1")
    assert path == str(tmp_path / "torch_home" / "hub" / "checkpoints" / "resnet50-0676ba61.pth")
    saved = seeded(lambda: torchvision.models.resnet50())
    save(saved, tmp_path / "torch_home" / "hub" / "checkpoints" / "resnet50-0676ba61.pth")
    cfg = from_flat({**SMOKE, **VARIANTS.get("resnet50")})  # no weights named: the default, 'torchvision'
    validate_model_cfg(cfg)
    assert_same(create_model(cfg).backbone.state_dict(), saved)


def test_bigmoe_as_released_loads_the_torchvision_trunk(tmp_path):
    saved = torchvision_state("vit-tiny")
    path = save(saved, tmp_path / "vit.pth")
    cfg = from_flat({**SMOKE, **VARIANTS.get("bigmoe_released"), "backbone.name": "vit-tiny",
                     "backbone.imagenet_weights": path, "bigmoe.peer_keys": 8})
    validate_model_cfg(cfg)
    model = create_model(cfg)
    assert_same(model.patch_embed.state_dict(), saved, "conv_proj.")
    for i, block in enumerate(model.blocks):
        assert_same(block.state_dict(), saved, f"encoder.layers.encoder_layer_{i}.")


def test_bigmoe_on_clip_and_atr_fas_clip_encoder_load_the_clip_file(tmp_path):
    saved = clip_state()
    path = save(saved, tmp_path / "clip.bin")
    big = create_model(from_flat({**SMOKE, **VARIANTS.get("bigmoe"), "backbone.pretrained": path,
                                  "bigmoe.peer_keys": 8}))
    assert_same(big.patch_embed.state_dict(), saved, "visual.conv1.")
    for i, block in enumerate(big.blocks):
        assert_same(block.state_dict(), saved, f"visual.transformer.resblocks.{i}.")
    atr = create_model(from_flat({**SMOKE, **VARIANTS.get("atr_fas_clip"), "backbone.pretrained": path}))
    assert_same(atr.encoder.clip.state_dict(), saved)


def test_which_key_each_family_reads():
    def cfg(variant, **extra):
        return from_flat({**SMOKE, **VARIANTS.get(variant), **extra})

    assert weights_key(cfg("clip")) == "backbone.pretrained"
    assert weights_key(cfg("resnet50")) == weights_key(cfg("bigmoe_released")) == "backbone.imagenet_weights"
    assert weights_key(cfg("atr_fas_clip")) == "backbone.pretrained"
    assert weights_key(cfg("atr_fas")) == "" and not starts_from_random_init(cfg("atr_fas"))  # no pretrained parts
    keys = ["backbone.pretrained", "backbone.imagenet_weights"]
    assert inactive_keys(cfg("clip"), keys) == ["backbone.imagenet_weights"]
    assert inactive_keys(cfg("resnet50"), keys) == ["backbone.pretrained"]
    tiny = cfg("resnet50", **{"backbone.name": "vit-tiny", "backbone.imagenet_weights": "torchvision"})
    assert starts_from_random_init(tiny)  # torchvision publishes no weights for the tiny twins
    meso = cfg("resnet50", **{"backbone.name": "meso4", "backbone.imagenet_weights": ""})
    assert not starts_from_random_init(meso)  # MesoNet is trained from scratch in its paper


def test_wrong_and_missing_torchvision_weights_are_refused(tmp_path):
    base = {**SMOKE, **VARIANTS.get("resnet50"), "backbone.name": "resnet-tiny"}
    vit = save(torchvision_state("vit-tiny"), tmp_path / "vit.pth")
    with pytest.raises(ConfigError, match=r"imagenet_weights='.*vit.pth'.*do not fit resnet-tiny: \d+ missing"):
        validate_model_cfg(from_flat({**base, "backbone.imagenet_weights": vit}))
    with pytest.raises(ConfigError, match=r"imagenet_weights='IMAGENET1K_V2': neither a weights file path nor"):
        validate_model_cfg(from_flat({**base, "backbone.imagenet_weights": "IMAGENET1K_V2"}))
    with pytest.raises(ConfigError, match=r"checkpoint file not found.*'torchvision'"):
        validate_model_cfg(from_flat({**base, "backbone.imagenet_weights": str(tmp_path / "none.pth")}))
    with pytest.raises(ConfigError, match=r"imagenet_weights='w.pth': a relative path"):
        validate_model_cfg(from_flat({**base, "backbone.imagenet_weights": "w.pth"}))


# --- the command line ----------------------------------------------------------------------------------------------


def run_cli(file: str, args: list[str], store: str | None = None) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, seconds) of a sweep file's real command line, in this process."""
    from pad_core.integrations.cli import sweep_main

    uri = ["--mlflow-uri", store] if store else []
    argv = [*uri, "--ray-address", UNREACHABLE_RAY, "--sweep-name", "weights", "--seeds", "0", *args]
    out, err, code = io.StringIO(), io.StringIO(), 0
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            sweep_main(argv=argv, **inputs_of(file))
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue(), err.getvalue(), time.monotonic() - started


ROWS_ARGS = ["--rows", "tests.unit.test_weights_every_row:ROWS", "--base", "tests.unit.test_weights_every_row:BASE"]


def refused(case: str, file: str, args: list[str], store: str) -> str:
    before = store_state(store)
    code, _, err, seconds = run_cli(file, args, store)
    REFUSAL_SECONDS[case] = seconds
    assert code == 2 and "Fix:" in err and "Traceback" not in err, err
    assert store_state(store) == before, "a refused command changed what MLflow had recorded"
    return err


def plan_weights(out: str) -> dict[str, str]:
    """row -> the weights column of a --plan table."""
    rows = {}
    for line in out.splitlines():
        match = re.match(r"\s+(\S+)\s+P\S+\s+\d+\s+\S+\s+\S+\s+(random init|\S+)\s", line)
        if match:
            rows[match[1]] = match[2]
    return rows


def test_paper_plan_of_mmoe_tables_3_4_has_pretrained_weights_on_every_row():
    code, out, err, _ = run_cli("mmoe_backbones.py", ["--scale", "paper", "--plan", "--protocols", "P1"])
    assert code in (0, None), err
    assert plan_weights(out) == {"resnet50": "torchvision", "vit_b16": "torchvision", "clip": "openai",
                                 "flip": "openai", "mmoe": "openai"}, out


def test_paper_scale_refuses_rows_that_start_from_random_init(tmp_path, store):
    clip = save(clip_state(), tmp_path / "clip.bin")
    resnet = save(torchvision_state("resnet-tiny"), tmp_path / "resnet.pth")
    err = refused("paper: CLIP row random init", "rows.py", [*ROWS_ARGS, "--scale", "paper", "--pretrained", "",
                                                              "--imagenet-weights", resnet], store)
    assert re.search(r"--scale='paper': rows would start from random init: clip \(backbone.pretrained=''.*"
                     r"Fix: give their weights with --pretrained TAG\|PATH \(CLIP rows\).*--allow-random-init", err)
    assert "resnet (" not in err and "pinned (" not in err, err  # the flag reached the pinned row too
    err = refused("paper: torchvision rows random init", "rows.py", [*ROWS_ARGS, "--scale", "paper", "--pretrained",
                                                                      clip], store)
    assert re.search(r"resnet \(backbone.imagenet_weights='torchvision', resnet-tiny: torchvision publishes no "
                     r"ImageNet weights for it, give a file\), pinned \(backbone.imagenet_weights='', vit-tiny\).*"
                     r"--imagenet-weights PATH\|torchvision \(torchvision rows\)", err), err
    code, out, err, _ = run_cli("rows.py", [*ROWS_ARGS, "--scale", "paper", "--pretrained", "", "--plan",
                                            "--allow-random-init"])
    assert code in (0, None) and plan_weights(out) == dict.fromkeys(("clip", "resnet", "pinned"), "random init"), err


def test_flags_reach_rows_that_pin_their_own_weights(tmp_path):
    clip = save(clip_state(), tmp_path / "clip.bin")
    vit = save(torchvision_state("vit-tiny"), tmp_path / "vit.pth")
    code, out, err, _ = run_cli("rows.py", [*ROWS_ARGS, "--scale", "paper", "--plan", "--pretrained", clip,
                                            "--set", f"backbone.imagenet_weights={vit}"])
    assert code in (0, None), err
    assert plan_weights(out) == {"clip": clip, "resnet": vit, "pinned": vit}, out


def test_demo_scale_fine_tunes_its_clip_rows_and_keeps_torchvision_rows_random(store, tmp_path):
    """The demo fine-tunes CLIP rows (lr 3e-4, text tower trained): from random init their prompts collapse, so a
    demo CLIP row without --pretrained is refused naming the pretraining command; torchvision rows stay random."""
    code, out, err, _ = run_cli("rows.py", [*ROWS_ARGS, "--plan"])
    assert code == 2 and "python -m pad_core pretrain" in err and "clip" in err and "resnet" not in err, err
    for deliberate in (["--allow-random-init"], ["--pretrained", ""], ["--set", "backbone.pretrained="]):
        code, out, err, _ = run_cli("rows.py", [*ROWS_ARGS, "--plan", *deliberate])  # random init asked for by name
        assert code in (0, None), err
        assert plan_weights(out) == dict.fromkeys(("clip", "resnet", "pinned"), "random init"), out
    clip = save(clip_state(), tmp_path / "clip.bin")
    code, out, err, _ = run_cli("mmoe_backbones.py", ["--plan", "--protocols", "P1", "--pretrained", clip])
    weights = plan_weights(out)
    assert code in (0, None) and weights["resnet50"] == weights["vit_b16"] == "random init", out
    assert weights["clip"] == weights["mmoe"] == clip, out


def test_missing_or_wrong_torchvision_cache_file_is_refused_with_its_path(tmp_path, store):
    clip = save(clip_state(), tmp_path / "clip.bin")
    args = ["--rows", "tests.unit.test_weights_every_row:RESNET50_ROWS", "--base",
            "tests.unit.test_weights_every_row:BASE", "--scale", "paper", "--pretrained", clip]
    folder = tmp_path / "torch_home" / "hub" / "checkpoints"
    save({"x": torch.zeros(1)}, folder / "resnet50-11ad3fa6.pth")  # the V2 set only: not what 'torchvision' names
    err = refused("paper: torchvision cache file missing", "rows.py", args, store)
    assert re.search(rf"row 'resnet50': backbone.imagenet_weights='torchvision': torchvision's ResNet50_Weights."
                     rf"IMAGENET1K_V1 file is not in its cache: looked for {re.escape(str(folder))}/resnet50-0676ba61."
                     rf"pth; the cache holds \[.*resnet50-11ad3fa6.pth'\].*Fix: pass --imagenet-weights .*"
                     r"torchvision.models.resnet50\(weights='IMAGENET1K_V1'\)", err), err
    save(torchvision_state("resnet-tiny"), folder / "resnet50-0676ba61.pth")
    err = refused("paper: torchvision cache file of another shape", "rows.py", args, store)
    assert re.search(r"imagenet_weights='torchvision': the weights in \S+resnet50-0676ba61.pth do not fit resnet50",
                     err), err
    resnet = save(torchvision_state("vit-tiny"), tmp_path / "vit.pth")
    err = refused("paper: --imagenet-weights of another shape", "rows.py", [*args, "--imagenet-weights", resnet],
                  store)
    assert re.search(r"row 'resnet50': backbone.imagenet_weights='\S+vit.pth'.*do not fit resnet50", err), err


def test_rehearsal_stages_a_torchvision_file_for_rows_that_read_the_cache(tmp_path, monkeypatch):
    """--scale rehearsal: a torchvision row that reads torchvision's cache at paper scale reads a generated file of
    the same format (pad_core/rehearsal.py); rows naming their own weights keep them."""
    from pad_core.rehearsal import rehearse_rows

    monkeypatch.setenv("PADSWEEP_CACHE", str(tmp_path / "cache"))
    base = {**VARIANTS.get("clip"), "data.manifest": str(tmp_path / "manifest.csv"), "backbone.pretrained": ""}
    own = Row("own", "own file", {**VARIANTS.get("vit_b16"), "backbone.imagenet_weights": "/abs/vit.pth"})
    _, rows = rehearse_rows(base, (Row("resnet50", "ResNet50", VARIANTS.get("resnet50")), own), "s3://unused")
    staged = rows[0].delta["backbone.imagenet_weights"]
    assert staged.startswith(str(tmp_path / "cache")) and rows[1].delta["backbone.imagenet_weights"] == "/abs/vit.pth"
    cfg = from_flat({**SMOKE, **rows[0].delta})
    validate_model_cfg(cfg)  # the staged file fits ResNet50 and loads as a lab's file would
    assert not starts_from_random_init(cfg)
