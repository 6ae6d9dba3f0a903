"""ATR-FAS model: every toggle of ATRCfg builds, has the documented shapes, and trains every parameter."""

import pytest
import torch
from torch.nn import functional as F

from pad_core.config import from_flat
from pad_core.config.family_schema import ATR_MIXES
from pad_core.data.flash import frame_count
from pad_core.losses.atr import atr_terms, type_targets
from pad_core.models.atr import ATROut, build_atr

# 32 depth bins keep the CPU tests fast; test_paper_depth_bins covers the default 256
TINY = {"family": "atr", "atr.image_size": 64, "atr.width": 8, "atr.levels": 2, "atr.depth_bins": 32,
        "backbone.name": "pad-tiny-vit", "backbone.pretrained": ""}


pytestmark = pytest.mark.usefixtures("one_thread")


def build(**overrides):
    cfg = from_flat({**TINY, **overrides})
    torch.manual_seed(0)
    return cfg, build_atr(cfg)


def batch(cfg, b: int = 2):
    a, gen = cfg.atr, torch.Generator().manual_seed(1)
    n, s = frame_count(a.n0, a.dn), a.image_size // 4
    frames = torch.rand(b, n, 3, a.image_size, a.image_size, generator=gen) * 2 - 1
    targets = {"depth": torch.randint(0, a.depth_bins, (b, s, s), generator=gen),
               "attack_index": torch.tensor([-1, 2, 0, 1])[:b], "label": torch.tensor([1, 0, 0, 0])[:b]}
    return {"frames": frames}, targets


def check_shapes(cfg, out: ATROut, b: int = 2) -> None:
    a = cfg.atr
    n, s = frame_count(a.n0, a.dn), a.image_size // 4
    assert isinstance(out, ATROut) and out.logits.shape == (b, 2)
    assert out.depth_logits.shape == (b, n, a.depth_bins, s, s) and out.depth.shape == (b, 1, s, s)
    assert out.embed.shape == out.cls.shape == (b, 4 * (s // 2) ** 2)
    assert torch.allclose(out.embed.norm(dim=-1), torch.ones(b), atol=1e-3)
    assert (out.depth >= 0).all() and (out.depth <= 1).all()
    if a.mix == "gate":
        assert out.gate_logits.shape == (b, n, a.experts) and out.routing["atr_gate"].shape == (b, a.experts)
    else:
        assert out.gate_logits is None and not out.routing


def check_every_parameter_trains(cfg, model) -> None:
    inputs, targets = batch(cfg)
    out = model(inputs)
    check_shapes(cfg, out)
    terms = atr_terms(out, targets)
    assert set(terms) == ({"depth", "gate"} if cfg.atr.mix == "gate" else {"depth"})
    (F.cross_entropy(out.logits, targets["label"]) + sum(terms.values())).backward()
    bad = [n for n, p in model.named_parameters()
           if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not bad, bad


@pytest.mark.parametrize("frame_attention", [True, False])
@pytest.mark.parametrize("mix", ATR_MIXES)
def test_every_mix_and_fusion_trains(mix, frame_attention):
    cfg, model = build(**{"atr.mix": mix, "atr.frame_attention": frame_attention})
    assert len(model.experts) == (1 if mix == "single" else cfg.atr.experts)
    check_every_parameter_trains(cfg, model)


@pytest.mark.parametrize("dn", ["dn", "consecutive", "off"])
def test_dn_modes_train(dn):
    check_every_parameter_trains(*build(**{"atr.dn": dn}))


@pytest.mark.parametrize("n0", range(3, 9))
@pytest.mark.parametrize("dn", ["dn", "consecutive", "off"])
def test_frame_counts_follow_n0_and_dn(dn, n0):
    cfg, model = build(**{"atr.dn": dn, "atr.n0": n0})
    assert frame_count(n0, dn) == cfg.atr.num_frames == {"dn": 2 * (n0 - 2), "consecutive": n0 - 1, "off": n0}[dn]
    with torch.no_grad():
        check_shapes(cfg, model.eval()(batch(cfg, b=1)[0]), b=1)


def test_paper_depth_bins():
    cfg, model = build(**{"atr.depth_bins": 256})
    check_every_parameter_trains(cfg, model)


@pytest.mark.parametrize("mix", ["gate", "cat"])
def test_clip_encoder_trains_and_freezes_the_text_tower(mix):
    cfg, model = build(**{"atr.encoder": "clip", "atr.mix": mix})
    check_every_parameter_trains(cfg, model)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(not n.startswith("encoder.clip.visual.") or n.endswith("proj") for n in frozen)
    assert any(n.startswith("encoder.clip.transformer.") for n in frozen)  # the text tower


def test_gate_per_sample_pools_over_frames():
    cfg, model = build(**{"atr.gate_per_frame": False})
    check_every_parameter_trains(cfg, model)
    gate = model(batch(cfg)[0]).gate_logits
    torch.testing.assert_close(gate, gate[:, :1].expand_as(gate))
    _, per_frame = build(**{"atr.gate_per_frame": True})
    gate = per_frame(batch(cfg)[0]).gate_logits
    assert not torch.allclose(gate, gate[:, :1].expand_as(gate))


def test_uniform_gate_equals_the_average_mix():
    cfg, gated = build(**{"atr.mix": "gate"})
    _, avg = build(**{"atr.mix": "avg"})
    avg.load_state_dict(gated.state_dict(), strict=False)
    last = gated.mix.gate[-1]
    torch.nn.init.zeros_(last.weight), torch.nn.init.zeros_(last.bias)
    inputs = batch(cfg)[0]
    with torch.no_grad():
        torch.testing.assert_close(gated.eval()(inputs).depth_logits, avg.eval()(inputs).depth_logits)


def test_attention_weights_are_a_softmax_over_frames():
    cfg, model = build()
    with torch.no_grad():
        weights = model.eval().fusion.weights(batch(cfg)[0]["frames"])
    assert weights.shape == (2, 6, 1, 16, 16)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2, 1, 16, 16))


def test_type_targets_one_hot_for_attacks_uniform_for_bona_fide():
    t = type_targets(torch.tensor([-1, 0, 1, 2]), 3)
    torch.testing.assert_close(t, torch.tensor([[1 / 3] * 3, [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]))
    with pytest.raises(RuntimeError):
        type_targets(torch.tensor([2]), 2)
