"""Checks that used to fail inside every trial run before the first one (issue 16, cause 2).

Two classes: pretrained weights (a file that is missing, unreadable, not a state dict or made for another
architecture; a tag that is unknown or whose weights cannot be obtained) are opened and matched against the model on
the driver; numeric config values that fail where they are consumed (nan/inf, negative seeds, Adam betas, a warm-up
longer than the run, an expert of width 0...) are refused when the config is built. Command-line cases go through a
sweep file's real command line with an unreachable Ray address and a real MLflow server (over SQLite) whose runs
must stay unchanged.
"""

import json
import math
import os
import re
import time
import typing

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from pad_core.config import RunCfg, from_flat, scale_overrides, to_flat
from pad_core.config.fieldcheck import NOT_FINITE, type_hints
from pad_core.config.weight_names import is_tag
from pad_core.errors import ConfigError
from pad_core.models import create_model, validate_model_cfg
from pad_core.models.backbones import weight_tags
from pad_core.models.backbones.clip_weights import _check_file
from pad_core.models.backbones.torchvision_nets import TV_BACKBONES
from pad_core.models.backbones.weights import quiet_root_logger
from tests.refusals import ROOT, refused

TINY = "pad-tiny-vit"
SMOKE = scale_overrides("smoke")
REFUSAL_SECONDS: dict[str, float] = {}  # time from the command line's start to exit 2, per case


@pytest.fixture(scope="module", autouse=True)
def print_refusal_times():
    """The measured times (pytest -s), for docs/RELIABILITY.md."""
    yield
    for case, seconds in sorted(REFUSAL_SECONDS.items()):
        print(f"{case:40s} {seconds:6.2f} s")


@pytest.fixture(autouse=True)
def no_ambient_cluster(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.chdir(ROOT)


def timed_refusal(case: str, args: list[str], store: str, capsys) -> str:
    """stderr of sweeps/mask_rates.py's command line, refused (exit 2, ``Fix:``, MLflow unchanged) before any
    trial; the seconds it took are printed at the end of the module."""
    times: dict[str, float] = {}
    err = refused("mask_rates.py", args, store, capsys, times=times)
    REFUSAL_SECONDS[case] = next(iter(times.values()))
    return err


# --- numeric config fields -----------------------------------------------------------------------------------------

# Fields where 0 means something documented (an index, "off", "none", "all"); every other numeric field refuses it.
ZERO_OK = {
    "moe.layers", "moe.soft.cosine_ref", "moe.soft.mask_rates", "moe.sue.routed_hidden", "moe.sue.capacity_factor",
    "bigmoe.modality_drop", "bigmoe.cdc_theta", "bigmoe.dropout", "bigmoe.train_last_blocks",
    "loss.cls_w", "loss.moe_cosine_w", "loss.router_z_w", "loss.balance_w", "loss.cr_t", "loss.dm_w", "loss.cdm_w",
    "loss.metric_w", "loss.metric_margin", "loss.depth_w", "loss.gate_w",
    "data.dev_fraction", "data.synth_seed", "data.num_workers", "data.verify_sample",
    "optim.weight_decay", "optim.warmup_steps", "optim.betas",
    "train.seed", "train.grad_clip", "train.max_minutes", "train.checkpoint_minutes", "eval.fixed_threshold",
}
NEGATIVE_OK = {"loss.cr_t"}  # a threshold on class-centre similarity of unnormalised features: any finite value
NONFINITE_OK: set[str] = set()  # fields declared with metadata=NONFINITE_OK
TEMPLATES = {"moe.layers": (0,), "moe.soft.mask_rates": (0.0, 0.0, 0.0, 0.0)}  # non-empty values to put a bad item in


def _scalar(hint) -> type | None:
    """int or float for a numeric leaf (or a tuple of them, or a union holding one); None otherwise."""
    if hint in (int, float):
        return hint
    for arg in typing.get_args(hint):
        if arg is not Ellipsis and _scalar(arg):
            return _scalar(arg)
    return None


def _hint(key: str):
    hint = RunCfg
    for part in key.split("."):
        hint = type_hints(hint)[part]
    return hint


def numeric_fields() -> list[tuple[str, type, bool]]:
    """(flat key, int or float, whether it is a tuple) of every numeric leaf of the run config: a new field is
    covered without touching this test."""
    out = []
    for key in to_flat(RunCfg()):
        hint = _hint(key)
        kind = _scalar(hint)
        if kind is not None and hint is not bool:
            out.append((key, kind, typing.get_origin(hint) is tuple or key in TEMPLATES))
    return out


def bad_values(kind: type) -> list:
    return [math.nan, math.inf, -math.inf, -1.0, 0.0] if kind is float else [-1, 0]


def _allowed(key: str, value) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return key in NONFINITE_OK
    return (value < 0 and key in NEGATIVE_OK) or (value == 0 and key in ZERO_OK)


CASES = [(key, value, is_tuple) for key, kind, is_tuple in numeric_fields() for value in bad_values(kind)]


@pytest.mark.parametrize("key, value, is_tuple", CASES, ids=[f"{k}={v}" for k, v, _ in CASES])
def test_every_numeric_field_refuses_nan_inf_negative_and_zero_unless_allowed(key, value, is_tuple):
    if is_tuple:
        template = TEMPLATES.get(key) or to_flat(RunCfg())[key]
        value = (value, *template[1:])
    first = value[0] if is_tuple else value
    if _allowed(key, first):
        from_flat({key: value})  # the allow-list says the value means something: it must be accepted
        return
    with pytest.raises(ConfigError) as info:
        from_flat({key: value})
    assert info.value.key.startswith(key), info.value  # refused for this field, not by accident for another
    if isinstance(first, float) and not math.isfinite(first):
        assert info.value.problem == NOT_FINITE, info.value


def test_the_field_walk_sees_every_config_family():
    keys = {k for k, _, _ in numeric_fields()}
    assert {"optim.lr", "optim.betas", "train.seed", "data.synth_seed", "eval.batch_size", "moe.soft.num_experts",
            "bigmoe.peer_keys", "atr.n0", "eval.tpr_at_fpr", "moe.layers"} <= keys


@pytest.mark.parametrize("flat, message", [
    ({"optim.betas": (1.0, 0.999)}, r"optim.betas.*\[1.0\] outside \[0, 1\)"),
    ({"optim.betas": (0.9, 1.5)}, r"\[1.5\] outside \[0, 1\)"),
    ({"optim.name": "sgd", "optim.betas": (1.2, 0.9)}, r"SGD's momentum"),
    ({"train.seed": 2**32}, r"train.seed=4294967296.*outside 0..4294967295"),
    ({"data.synth_seed": -3}, r"data.synth_seed=-3.*numpy's seed range"),
    ({"optim.warmup_steps": 5000}, r"optim.warmup_steps=5000.*never reach optim.lr"),
    ({"eval.tpr_at_fpr": (0.1, 0.1000000001)}, r"budgets listed twice.*tpr_at_fpr_0.1"),
    ({"atr.image_size": 0}, r"atr.image_size=0.*positive multiple of 16"),
])
def test_values_that_fail_where_they_are_consumed_are_refused_when_built(flat, message):
    with pytest.raises(ConfigError, match=message):
        from_flat(flat)


def test_expert_of_width_zero_is_refused_with_its_key():
    for kind, mult in (("soft", 0.001), ("moae", 0.01)):  # int(128 * 0.001) = 0; MoAE: int(64 * 0.01) = 0
        cfg = from_flat({**SMOKE, "moe.kind": kind, f"moe.{kind}.expert_hidden_mult": mult})
        with pytest.raises(ConfigError, match=rf"moe.{kind}.expert_hidden_mult.*hidden width of int\(.*\) = 0"):
            validate_model_cfg(cfg)


@pytest.mark.parametrize("case, args, message", [
    ("optim.lr=inf", ["--set", "optim.lr=inf"], r"optim.lr=inf: not a finite number"),
    ("optim.lr=nan", ["--set", "optim.lr=nan"], r"optim.lr=nan: not a finite number"),
    ("train.grad_clip=nan", ["--set", "train.grad_clip=nan"], r"train.grad_clip=nan: not a finite number"),
    ("betas", ["--set", "optim.betas=1.0,0.999"], r"optim.betas=\(1.0, 0.999\).*outside \[0, 1\)"),
    ("seed -1", ["--seeds=-1"], r"seed.*-1.*(outside 0..4294967295|negative)"),
    ("synth_seed -1", ["--set", "data.synth_seed=-1"], r"data.synth_seed=-1.*outside"),
    ("eval.batch_size=0", ["--set", "eval.batch_size=0"], r"eval.batch_size=0.*>= 1"),
    ("warmup > steps", ["--set", "optim.warmup_steps=100"], r"optim.warmup_steps=100.*longer than train.steps=6"),
    ("expert width 0", ["--set", "moe.soft.expert_hidden_mult=0.001"], r"expert_hidden_mult.*hidden width"),
])
def test_numeric_values_refused_through_the_command_line(case, args, message, store, capsys):
    err = timed_refusal(case, args, store, capsys)
    assert re.search(message, err), err


# --- pretrained weights --------------------------------------------------------------------------------------------


def clip_state(name: str = TINY) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    with quiet_root_logger():
        return open_clip.create_model(name, pretrained=None).state_dict()


def register_config(folder, name: str, **vision) -> str:
    """An open_clip model config like pad-tiny-vit with some vision settings changed (open_clip's own registry, as
    the project registers its tiny model)."""
    cfg = open_clip.get_model_config(TINY)
    cfg["vision_cfg"].update(vision)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(cfg))
    open_clip.add_model_config(path)
    return name


@pytest.fixture(scope="module")
def other_models(tmp_path_factory) -> dict[str, str]:
    """Tiny CLIPs of other architectures: another width, another patch, another input size."""
    folder = tmp_path_factory.mktemp("model_configs")
    return {"width": register_config(folder, "pad-test-wide", width=64, head_width=16),
            "patch": register_config(folder, "pad-test-patch16", patch_size=16),
            "image_size": register_config(folder, "pad-test-img32", image_size=32)}


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory, other_models) -> dict[str, str]:
    """Small real files of every kind a user may pass as --pretrained."""
    folder = tmp_path_factory.mktemp("weights")
    good = clip_state()
    files = {"good.pt": good, "good.safetensors": good,
             "wrapped.pt": {"state_dict": {f"module.{k}": v for k, v in good.items()}},
             "training_checkpoint.pt": {"model": good, "optimizer": {}, "step": 6},
             "other_width.pt": clip_state(other_models["width"]),
             "other_patch.pt": clip_state(other_models["patch"]),
             "other_image_size.pt": clip_state(other_models["image_size"]),
             "resnet.pt": TV_BACKBONES.get("resnet-tiny").build().state_dict()}
    paths = {}
    for name, state in files.items():
        paths[name] = str(folder / name)
        if name.endswith(".safetensors"):
            save_file({k: v.contiguous() for k, v in state.items()}, paths[name])
        else:
            torch.save(state, paths[name])
    paths["truncated.pt"] = str(folder / "truncated.pt")
    (folder / "truncated.pt").write_bytes((folder / "good.pt").read_bytes()[: 1 << 20])
    paths["random.bin"] = str(folder / "random.bin")
    (folder / "random.bin").write_bytes(os.urandom(1 << 16))
    paths["torchscript.pt"] = str(folder / "torchscript.pt")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), paths["torchscript.pt"])
    paths["folder"] = str(folder)
    paths["missing.pt"] = str(folder / "missing.pt")
    return paths


WEIGHT_CASES = [
    ("missing.pt", r"checkpoint file not found"),
    ("folder", r"is a folder, not a weights file"),
    ("truncated.pt", r"cannot be read as a PyTorch checkpoint, corrupt or truncated"),
    ("random.bin", r"cannot be read as a PyTorch checkpoint"),
    ("torchscript.pt", r"TorchScript archive.*torch.jit.load"),
    ("training_checkpoint.pt", r"entries that are not tensors.*'optimizer'"),
    ("other_width.pt", r"do not fit pad-tiny-vit: \d+ of another shape.*holds a ViT of width 64, patch 8.*fits \["),
    ("other_patch.pt", r"do not fit pad-tiny-vit: 1 of another shape \(e.g. visual.conv1.weight: file 128x3x16x16"),
    ("resnet.pt", r"do not fit pad-tiny-vit: \d+ missing.*\d+ unexpected.*holds no CLIP ViT"),
]


@pytest.mark.parametrize("name, message", WEIGHT_CASES, ids=[c[0] for c in WEIGHT_CASES])
def test_bad_weight_files_are_refused_before_any_trial(name, message, weight_files, store, capsys):
    err = timed_refusal(f"--pretrained {name}", ["--pretrained", weight_files[name]], store, capsys)
    assert re.search(rf"backbone.pretrained='{re.escape(weight_files[name])}'.*{message}", err), err


@pytest.mark.parametrize("name", ["good.pt", "good.safetensors", "wrapped.pt", "other_image_size.pt"])
def test_good_weight_files_pass_the_check_and_load(name, weight_files, other_models):
    """A file open_clip loads passes (a DDP prefix, a state_dict wrapper, a position embedding it resizes)."""
    cfg = from_flat({**SMOKE, "moe.kind": "soft", "backbone.pretrained": weight_files[name]})
    validate_model_cfg(cfg)
    model = create_model(cfg)
    expected = clip_state(other_models["image_size"] if name == "other_image_size.pt" else TINY)
    torch.testing.assert_close(model.clip.visual.conv1.weight, expected["visual.conv1.weight"], rtol=0, atol=0)


def test_a_file_is_read_once_per_version(weight_files, tmp_path):
    path = tmp_path / "w.pt"
    torch.save(clip_state(), path)
    cfg = from_flat({**SMOKE, "backbone.pretrained": str(path)})
    validate_model_cfg(cfg)
    misses = _check_file.cache_info().misses
    for seed in range(5):  # the cells of a sweep: same weights, other seeds
        validate_model_cfg(from_flat({"train.seed": seed}, cfg))
    assert _check_file.cache_info().misses == misses
    path.write_bytes(path.read_bytes()[:4096])  # replaced: read again, and refused
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(ConfigError, match="cannot be read"):
        validate_model_cfg(cfg)


def test_relative_weight_paths_are_refused(store, capsys):
    """The command line makes a path absolute (from where it was typed); a config built elsewhere (a sweep file's
    row, a search space) with a relative path is refused: trials run in folders of their own."""
    err = timed_refusal("relative path", ["--set", "backbone.pretrained=weights/clip.pt"], store, capsys)
    assert re.search(r"backbone.pretrained='\S*weights/clip.pt'.*(relative path|not found).*absolute", err), err
    for path in ("weights/clip.pt", "clip.pt", "~/clip.pt"):
        with pytest.raises(ConfigError, match=r"a relative path.*Fix: give the absolute path"):
            validate_model_cfg(from_flat({**SMOKE, "backbone.pretrained": path}))
    with pytest.raises(ConfigError, match=r"a URL: weights load from a local file"):
        validate_model_cfg(from_flat({**SMOKE, "backbone.pretrained": "s3://bucket/clip.pt"}))


def test_tag_and_path_share_one_rule():
    assert is_tag("openai") and is_tag("laion2b_s34b_b88k")
    assert not any(is_tag(p) for p in ("", "w.bin", "/abs/w", "./w", "~/w.pt", "dir/w"))


# --- pretrained tags -----------------------------------------------------------------------------------------------


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """No internet (HF_HUB_OFFLINE, as on a cluster without egress) and an empty Hugging Face cache of our own."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    weight_tags._hf_unreachable.cache_clear()
    yield tmp_path / "hub"
    weight_tags._hf_unreachable.cache_clear()


def test_unknown_tag_is_refused_with_the_nearest_one(store, capsys):
    err = timed_refusal("--pretrained opnai", ["--backbone", "ViT-B-16-quickgelu", "--pretrained", "opnai"],
                        store, capsys)
    assert re.search(r"backbone.pretrained='opnai': not a pretrained tag of ViT-B-16-quickgelu.*did you mean "
                     r"'openai'", err), err


def test_tag_whose_weights_cannot_be_obtained_is_refused(offline_hub, store, capsys):
    err = timed_refusal("openai, offline and not cached",
                        ["--backbone", "ViT-B-16-quickgelu", "--pretrained", "openai"], store, capsys)
    assert re.search(r"backbone.pretrained='openai': the ViT-B-16-quickgelu weights of this tag cannot be obtained: "
                     r"the Hugging Face cache .* has no open_clip_model.safetensors or open_clip_pytorch_model.bin of "
                     r"timm/vit_base_patch16_clip_224.openai.*HF_HUB_OFFLINE.*Fix: download them.*--pretrained",
                     err, flags=re.DOTALL), err


def _cache_file(hub, repo: str, filename: str, state: dict) -> str:
    """A file laid out in the Hugging Face cache as hf_hub_download leaves it."""
    root = hub / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text("0" * 40)
    snapshot = root / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(snapshot / filename))
    return str(snapshot / filename)


def test_cached_tag_is_checked_and_loaded_from_the_same_file(offline_hub, monkeypatch, other_models):
    """A tag registered for the tiny model (open_clip's own registry) resolves to the cached file that open_clip then
    loads offline; the same tag with a file of another architecture in the cache is refused."""
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, TINY, {"cached": {"hf_hub": "pad/tiny-cached/"},
                                                                 "wrong": {"hf_hub": "pad/tiny-wrong/"}})
    state = clip_state()
    _cache_file(offline_hub, "pad/tiny-cached", "open_clip_model.safetensors", state)
    cfg = from_flat({**SMOKE, "backbone.pretrained": "cached"})
    validate_model_cfg(cfg)
    model = create_model(cfg)
    torch.testing.assert_close(model.clip.visual.conv1.weight, state["visual.conv1.weight"], rtol=0, atol=0)
    path = _cache_file(offline_hub, "pad/tiny-wrong", "open_clip_model.safetensors", clip_state(other_models["width"]))
    with pytest.raises(ConfigError, match=rf"'wrong'.*weights in {re.escape(path)} do not fit pad-tiny-vit"):
        validate_model_cfg(from_flat({"backbone.pretrained": "wrong"}, cfg))


# --- torchvision baselines -----------------------------------------------------------------------------------------


def test_torchvision_weights_are_matched_and_loaded(tmp_path):
    full = TV_BACKBONES.get("resnet-tiny").build()  # headless; add the classifier a torchvision file carries
    state = {**full.state_dict(), "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    torch.save(state, tmp_path / "resnet.pt")
    base = {**SMOKE, "backbone.name": "resnet-tiny", "head.kind": "linear", "backbone.imagenet_weights": ""}
    cfg = from_flat({**base, "backbone.imagenet_weights": str(tmp_path / "resnet.pt")})
    validate_model_cfg(cfg)
    torch.testing.assert_close(create_model(cfg).backbone.conv1.weight, state["conv1.weight"], rtol=0, atol=0)
    torch.save(TV_BACKBONES.get("vit-tiny").build().state_dict(), tmp_path / "vit.pt")
    with pytest.raises(ConfigError, match=r"do not fit resnet-tiny: \d+ missing.*\d+ unexpected"):
        validate_model_cfg(from_flat({"backbone.imagenet_weights": str(tmp_path / "vit.pt")}, cfg))
    with pytest.raises(ConfigError, match=r"backbone.imagenet_weights='openai'.*neither a weights file path nor"):
        validate_model_cfg(from_flat({"backbone.imagenet_weights": "openai"}, cfg))
    validate_model_cfg(from_flat({"backbone.pretrained": "openai"}, cfg))  # the CLIP rows' key: not read here


# --- a model that cannot be built ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, message", [
    ("hf-hub:timm/vit_base_patch16_clip_224.openai", r"fetched with its own config and weights"),  # no network used
    ("local-dir:/nowhere", r"fetched with its own config and weights"),
    ("RN50", r"not a ViT CLIP with its own text transformer"),
    ("ViT-B-16-SigLIP", r"not a ViT CLIP with its own text transformer"),
    ("coca_ViT-B-32", r"cannot be built \(AttributeError"),
])
def test_backbones_the_models_cannot_use_are_refused_without_a_traceback(name, message):
    """Every open_clip name either builds on the meta device or is refused with a ConfigError (the whole registry
    was walked this way once: 66 usable, 224 refused, no traceback)."""
    with pytest.raises(ConfigError, match=message):
        validate_model_cfg(from_flat({"backbone.name": name, "backbone.pretrained": ""}))


def test_a_model_that_cannot_be_built_is_refused_before_any_trial(tmp_path, store, capsys):
    """A model config open_clip accepts by name but cannot build (3 heads do not divide width 100): the preflight's
    build on the meta device fails instead of every trial."""
    name = register_config(tmp_path, "pad-test-unbuildable", width=100, head_width=32)
    err = timed_refusal("unbuildable model", ["--backbone", name], store, capsys)
    assert re.search(r"cannot be built \(.*Error", err), err
