"""Whole models built through the registry: vanilla-CLIP equivalence, placement, gradient coverage."""

import open_clip
import pytest
import torch

from pad_core.audit.check import fixed_batch
from pad_core.audit.twin import twin_overrides
from pad_core.config import TINY_MODEL, from_flat, scale_overrides
from pad_core.errors import ConfigError
from pad_core.losses import total_loss
from pad_core.models import VARIANTS, create_model
from pad_core.models.factory import resolve_run_cfg
from pad_core.models.moe.placement import WRAPPERS
from pad_core.models.moe_blocks import resolve_layers

TINY = scale_overrides("smoke")


def build(variant: str, **overrides):
    torch.manual_seed(0)
    return create_model(variant, **{**TINY, **overrides})


def images(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def test_moe_off_equals_vanilla_open_clip_exactly():
    model = build("clip").eval()
    torch.manual_seed(0)
    vanilla = open_clip.create_model(TINY_MODEL, pretrained=None).eval()
    vanilla.load_state_dict(model.clip.state_dict())
    x = images()
    torch.testing.assert_close(model.clip.encode_image(x), vanilla.encode_image(x), rtol=0, atol=0)
    soft_nowhere = build("mmoe", **{"moe.layers": "none"}).eval()
    soft_nowhere.clip.load_state_dict(model.clip.state_dict())
    torch.testing.assert_close(soft_nowhere(x).logits, model(x).logits, rtol=0, atol=0)


def test_zero_expert_outputs_reduce_parallel_mode_to_clip():
    clip = build("clip").eval()
    moe = build("softmoe").eval()
    moe.clip.load_state_dict(clip.clip.state_dict(), strict=False)
    for w in moe.visual_moe:
        torch.nn.init.zeros_(w.moe.experts.w2)
        torch.nn.init.zeros_(w.moe.experts.b2)
    torch.testing.assert_close(moe(images()).logits, clip(images()).logits, rtol=0, atol=0)


def test_replace_mode_drops_the_mlp_and_adds_only_the_moe():
    model = build("softmoe", **{"moe.mode": "replace", "moe.layers": (1,)}).eval()
    visual_mlp = [n for n, _ in model.clip.visual.named_parameters() if "resblocks.1.mlp" in n]
    assert visual_mlp and all(".moe." in n for n in visual_mlp)
    block = model.clip.visual.transformer.resblocks[1]
    x = torch.randn(2, 65, 128)
    h = x + block.attention(block.ln_1(x))
    torch.testing.assert_close(block(x), h + block.mlp.moe(block.ln_2(h)).x)


@pytest.mark.parametrize("mode", WRAPPERS.list())
def test_block0_moe_keeps_get_cast_dtype_working(mode):
    model = build("mmoe", **{"moe.layers": (0,), "moe.mode": mode})
    assert model.clip.visual.transformer.get_cast_dtype() == torch.float32


CLIP_VARIANTS = [v for v in VARIANTS.list() if VARIANTS.get(v).get("family", "clip") == "clip"]
FAMILY_VARIANTS = [v for v in VARIANTS.list() if v not in CLIP_VARIANTS]


@pytest.mark.parametrize("variant", FAMILY_VARIANTS)
def test_other_families_reach_every_trainable_parameter_through_the_training_loss(variant):
    cfg = resolve_run_cfg(variant, TINY)
    cfg = from_flat(twin_overrides(cfg), cfg)  # vit_b_16 of the released BIG-MoE -> its tiny twin
    inputs, targets = fixed_batch(cfg)
    torch.manual_seed(0)
    model = create_model(cfg).train()
    out = model(inputs)
    loss, terms = total_loss(out, targets, cfg.head.loss, cfg.loss)
    loss.backward()
    assert out.logits.shape == (len(targets if torch.is_tensor(targets) else targets["label"]), 2)
    assert torch.isfinite(loss) and set(terms) >= {"cls", "loss"}
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing


@pytest.mark.parametrize("variant", CLIP_VARIANTS)
@pytest.mark.parametrize("mode", WRAPPERS.list())
def test_forward_backward_reach_every_trainable_parameter(variant, mode):
    model = build(variant, **{"moe.mode": mode, "backbone.train_text": True}).train()
    out = model(images(6))
    loss = torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1, 0, 1, 0, 1])) + sum(out.aux.values())
    loss.backward()
    assert out.logits.shape == (6, 2) and torch.isfinite(out.logits).all()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing


def test_frozen_towers_get_no_gradient_but_moe_does():
    model = build("mmoe", **{"backbone.train_visual": False, "backbone.train_text": False})
    out = model(images())
    (out.logits.sum() + out.aux["moe_cosine"]).backward()
    for name, p in model.named_parameters():
        if ".moe." in name or name == "clip.logit_scale":  # the head's temperature stays trainable
            assert p.requires_grad and p.grad is not None, name
        else:
            assert not p.requires_grad, name


def test_aux_is_averaged_over_moe_layers():
    model = build("mmoe").eval()
    x = images()
    out = model(x)
    per_layer = []
    h = model.clip.visual
    hooks = [w.moe.register_forward_hook(lambda m, i, o: per_layer.append(o.aux["moe_cosine"])) for w in
             model.visual_moe]
    model(x)
    for hk in hooks:
        hk.remove()
    assert len(per_layer) == h.transformer.layers == 4
    torch.testing.assert_close(out.aux["moe_cosine"], torch.stack(per_layer).mean())


def test_layer_presets_and_bounds():
    assert resolve_layers("all", 12) == tuple(range(12))
    assert resolve_layers("early", 12) == (0, 1, 2)
    assert resolve_layers("middle", 12) == (4, 5, 6)
    assert resolve_layers("later", 12) == (9, 10, 11)
    assert resolve_layers((3, 1), 12) == (1, 3)
    with pytest.raises(ConfigError, match="outside 0..3"):
        build("mmoe", **{"moe.layers": (4,)})


def test_unknown_variant_and_backbone_errors():
    with pytest.raises(ConfigError, match="unknown model variant"):
        create_model("mmoe2")
    with pytest.raises(ConfigError, match="unknown open_clip model"):
        build("clip", **{"backbone.name": "ViT-Q-99"})
    with pytest.raises(ConfigError, match="not a pretrained tag"):
        build("clip", **{"backbone.name": "ViT-B-16-quickgelu", "backbone.pretrained": "laion9b"})
    with pytest.raises(ConfigError, match="quickgelu"):
        build("clip", **{"backbone.name": "ViT-B-16", "backbone.pretrained": "openai"})


def test_local_checkpoint_round_trip(tmp_path):
    model = build("clip").eval()
    path = tmp_path / "clip.pt"
    torch.save(model.clip.state_dict(), path)
    loaded = build("clip", **{"backbone.pretrained": str(path)}).eval()
    torch.manual_seed(123)  # a different init seed would give different weights without the checkpoint
    x = images()
    torch.testing.assert_close(loaded.clip.encode_image(x), model.clip.encode_image(x), rtol=0, atol=0)
    with pytest.raises(ConfigError, match="checkpoint file not found"):
        build("clip", **{"backbone.pretrained": str(tmp_path / "missing.pt")})


@pytest.mark.parametrize("tower", ["visual", "text", "both"])
def test_sue_with_zeroed_routed_branch_equals_vanilla_clip(tower):
    clip = build("clip", **{"backbone.train_text": True}).eval()
    sue = build("sue", **{"moe.tower": tower, "moe.sue.routed_init": "zero_last", "backbone.train_text": True}).eval()
    # Same seed: CLIP is built (and loaded) before the MoE layers are injected, so its weights are identical.
    torch.testing.assert_close(sue.clip.visual.conv1.weight, clip.clip.visual.conv1.weight, rtol=0, atol=0)
    x = images()
    torch.testing.assert_close(sue(x).logits, clip(x).logits, rtol=0, atol=0)
    towers = {w.name[0] for w in sue.visual_moe + sue.text_moe}
    assert towers == {"visual": {"v"}, "text": {"t"}, "both": {"v", "t"}}[tower]


def test_sue_shared_expert_is_clip_mlp_and_visual_moe_has_none():
    shared = build("sue", **{"moe.layers": (1,)})
    assert hasattr(shared.clip.visual.transformer.resblocks[1].mlp, "mlp")  # CLIP MLP kept, trainable
    assert shared.clip.visual.transformer.resblocks[1].mlp.mlp.c_fc.weight.requires_grad
    routed_only = build("visual_moe", **{"moe.layers": (1,)})
    assert not hasattr(routed_only.clip.visual.transformer.resblocks[1].mlp, "mlp")


def test_copy_mlp_upcycles_every_routed_expert():
    model = build("sue", **{"moe.sue.routed_init": "copy_mlp", "moe.layers": (0,)})
    wrapper = model.clip.visual.transformer.resblocks[0].mlp
    for e in range(4):
        torch.testing.assert_close(wrapper.moe.experts.w1[e], wrapper.mlp.c_fc.weight.T)


def test_text_padding_mask_reaches_the_text_moe_during_forward():
    model = build("text_sue", **{"backbone.train_text": True})
    seen = []
    hook = model.text_moe[0].moe.register_forward_hook(lambda m, i, o: seen.append(m.token_mask.clone()))
    model(images(2))
    hook.remove()
    tokens = model.head.tokens
    assert seen[0].shape == tokens.shape and seen[0].sum() < tokens.numel()  # padding masked
    assert model.text_moe[0].moe.token_mask is None  # cleared after the forward


@pytest.mark.parametrize("name", ["resnet-tiny", "vit-tiny"])
def test_torchvision_baselines_train_with_a_linear_head(name, tmp_path):
    model = build("resnet50", **{"backbone.name": name})
    out = model(images(4))
    out.logits.sum().backward()
    assert out.logits.shape == (4, 2) and all(p.grad is not None for p in model.parameters())
    path = tmp_path / "w.pt"
    torch.save(model.backbone.state_dict(), path)
    again = build("resnet50", **{"backbone.name": name, "backbone.imagenet_weights": str(path)}).eval()
    torch.testing.assert_close(again.backbone(images(2)), model.eval().backbone(images(2)))


def test_flip_it_prompts_and_flip_v_head():
    flip_it = build("flip_it")
    assert flip_it.head.counts == (6, 6) and flip_it.head.tokens.shape[0] == 12
    flip_v = build("flip_v")
    out = flip_v(images(2))
    assert out.logits.shape == (2, 2) and not flip_v.clip.logit_scale.requires_grad
    assert not flip_v.clip.visual.proj.requires_grad  # FLIP-V reads the pre-projection CLS


def test_model_cfg_errors_name_the_fix():
    with pytest.raises(ConfigError, match="does not divide the width"):
        build("moae", **{"moe.moae.heads": 3})
    with pytest.raises(ConfigError, match="torchvision baselines take no MoE"):
        build("resnet50", **{"backbone.name": "resnet-tiny", "moe.kind": "soft"})
    with pytest.raises(ConfigError, match="only SUE layers"):
        build("moae", **{"moe.tower": "text"})
