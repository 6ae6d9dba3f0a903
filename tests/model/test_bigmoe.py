"""BIG-MoE (METHODS.md §3): every toggle builds, trains end to end, and keeps the invariants its design promises."""

import pytest
import torch
from torch import nn

from pad_core.config import from_flat
from pad_core.models.bigmoe import BigMoEModel, build_bigmoe
from pad_core.models.bigmoe.cdc import ECA, CDConv2d
from pad_core.models.bigmoe.igma import NoAdapter
from pad_core.models.bigmoe.model import modality_bits
from pad_core.models.bigmoe.peer import PEER, product_key_topk

BACKBONES = ("pad-tiny-vit", "vit-tiny")
# peer_keys=8 (64 experts) keeps the tests fast; one row keeps the released code's 40 (1600 experts).
BASE = {"family": "bigmoe", "backbone.pretrained": "", "bigmoe.peer_keys": 8}
TOGGLES = {
    "default": {},
    "peer40": {"bigmoe.peer_keys": 40},
    "ffn": {"bigmoe.experts": "ffn"},
    "expert_gate": {"bigmoe.gate_input": "expert"},
    "ffn_expert_gate": {"bigmoe.experts": "ffn", "bigmoe.gate_input": "expert"},
    "no_cpb": {"bigmoe.cpb": False},
    "cpb_no_residual": {"bigmoe.cpb_residual": False},
    "theta0": {"bigmoe.cdc_theta": 0.0},
    "code_wiring": {"bigmoe.faithful_code_wiring": True},
    "w_major": {"bigmoe.fix_transpose": False},
    "new_pos": {"bigmoe.pos_embed": "new"},
    "no_drop": {"bigmoe.modality_drop": 0.0},
    "all_frozen": {"bigmoe.train_last_blocks": 0},
}


pytestmark = pytest.mark.usefixtures("one_thread")


def build(backbone: str = "pad-tiny-vit", seed: int = 0, **overrides) -> BigMoEModel:
    torch.manual_seed(seed)
    return build_bigmoe(from_flat({**BASE, "backbone.name": backbone, **overrides}))


def inputs(b: int = 3, missing=(0, 1, 6), seed: int = 1) -> dict[str, torch.Tensor]:
    images = torch.randn(b, 3, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    return {"modalities": images, "missing": torch.tensor(missing[:b], dtype=torch.long)}


def twin(model: BigMoEModel, backbone: str, **overrides) -> BigMoEModel:
    """A model with other toggles but ``model``'s weights (the toggles must keep the parameter set)."""
    other = build(backbone, seed=1, **overrides)
    other.load_state_dict(model.state_dict())
    return other


@pytest.mark.parametrize("toggle", list(TOGGLES))
@pytest.mark.parametrize("backbone", BACKBONES)
def test_forward_backward_reach_every_trainable_parameter(backbone, toggle):
    model = build(backbone, **TOGGLES[toggle]).train()
    out = model(inputs())
    torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1, 1])).backward()
    width = model.head.in_features
    assert out.logits.shape == (3, 2) and out.embed.shape == out.cls.shape == (3, width)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    bad = [n for n, p in trainable if p.grad is None or not p.grad.isfinite().all() or not p.grad.any()]
    assert not bad
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any(n.startswith("patch_embed.") for n in frozen) and any(n.startswith("blocks.0.") for n in frozen)
    assert all(p.grad is None for p in model.patch_embed.parameters())


def test_only_the_last_blocks_train():
    model = build(**{"bigmoe.train_last_blocks": 2})
    trainable = [all(p.requires_grad for p in b.parameters()) for b in model.blocks]
    assert trainable == [False, False, True, True]
    assert model.cls_token.requires_grad and all(p.requires_grad for p in model.adapters.parameters())


def test_clip_port_holds_no_text_tower():
    names = [n for n, _ in build().named_parameters()]
    assert not any("token_embedding" in n or n.startswith("transformer.") for n in names)


def test_prompt_path_exists_only_where_something_reads_it():
    no_cpb = build(**{"bigmoe.cpb": False})
    assert not any(".bypass." in n for n, _ in no_cpb.named_parameters())
    assert any(n.startswith("prompt.") for n, _ in no_cpb.named_parameters())  # P_0 still feeds G_p
    expert_gate = build(**{"bigmoe.gate_input": "expert"})
    assert not any(n.startswith("prompt.") or ".bypass." in n for n, _ in expert_gate.named_parameters())
    cpb = build()
    assert isinstance(cpb.adapters[-1], NoAdapter)  # after the last block only CLS is read; IGMA writes patches
    has_bypass = [any(True for _ in a.bypass.parameters()) for a in cpb.adapters[:-1]]
    assert has_bypass == [True, True, False]  # the last IGMA's P_{l+1} is never read


def test_modality_drop_copies_and_sets_code_bits():
    model = build(**{"bigmoe.modality_drop": 0.9}).train()
    batch = inputs(b=3, missing=(0, 2, 4))
    before = {k: v.clone() for k, v in batch.items()}
    torch.manual_seed(3)
    images, code = model.drop_modalities(batch["modalities"], batch["missing"])
    for k in batch:
        assert torch.equal(batch[k], before[k])
    assert torch.equal(code & batch["missing"], batch["missing"]) and (code != batch["missing"]).any()
    gone = modality_bits(code, 3)
    assert (images[gone] == 0).all() and torch.equal(images[~gone], batch["modalities"][~gone])
    model(batch)
    assert all(torch.equal(batch[k], before[k]) for k in batch)


def test_missing_code_at_eval_comes_from_the_data():
    model = build(**{"bigmoe.modality_drop": 0.9}).eval()
    batch = inputs(b=2, missing=(0, 5))
    images, code = model.drop_modalities(batch["modalities"], batch["missing"])
    assert torch.equal(code, batch["missing"])
    assert (images[1, [0, 2]] == 0).all() and torch.equal(images[1, 1], batch["modalities"][1, 1])
    with torch.no_grad():
        model.prompt.bank.normal_()  # a non-zero bank, so the code's prompt shows in the output
        first, again = model(batch).logits, model(batch).logits
        other = model({**batch, "missing": torch.tensor([0, 1])}).logits
    assert torch.equal(first, again)
    assert torch.allclose(first[0], other[0], atol=1e-6) and not torch.allclose(first[1], other[1])


@pytest.mark.parametrize("backbone", BACKBONES)
def test_figure_wiring_with_zero_adapters_is_the_plain_backbone(backbone):
    model = build(backbone).eval()
    for adapter in model.adapters[:-1]:  # the last block has none
        nn.init.zeros_(adapter.up.weight)
        nn.init.zeros_(adapter.up.bias)
    batch = inputs(missing=(0, 0, 0))
    with torch.no_grad():
        x = model.embed(batch["modalities"])
        for block in model.blocks:
            x = block(x)  # the backbone block's own forward
        reference = model.head(model.ln_post(x[:, 0]))
        logits = model(batch).logits
    assert (logits - reference).abs().max() < 1e-5


@pytest.mark.parametrize("backbone", BACKBONES)
def test_code_wiring_differs_from_figure_wiring(backbone):
    model = build(backbone).eval()
    code = twin(model, backbone, **{"bigmoe.faithful_code_wiring": True}).eval()
    with torch.no_grad():
        assert not torch.allclose(model(inputs()).logits, code(inputs()).logits, atol=1e-4)


@pytest.mark.parametrize("cpb", [True, False])
def test_fix_transpose_acts_only_through_the_prompt_bypass(cpb):
    fixed = build(**{"bigmoe.cpb": cpb}).eval()
    w_major = twin(fixed, "pad-tiny-vit", **{"bigmoe.cpb": cpb, "bigmoe.fix_transpose": False}).eval()
    batch = inputs()
    with torch.no_grad():
        same_p0 = torch.equal(fixed.prompt(batch["modalities"], batch["missing"]),
                              w_major.prompt(batch["modalities"], batch["missing"]))
        a, b = fixed(batch).logits, w_major(batch).logits
    assert same_p0
    assert torch.equal(a, b) != cpb  # differ iff a CPB reshapes tokens to the grid


def test_w_major_layout_transposes_the_grid():
    model = build(**{"bigmoe.fix_transpose": False, "bigmoe.cpb_residual": False}).eval()
    bypass = model.adapters[0].bypass
    prompt = torch.randn(1, 64, 64)
    gate = torch.randn(1, 64, 16)
    t = lambda z: z.reshape(1, 8, 8, -1).transpose(1, 2).reshape(1, 64, -1)  # noqa: E731 - token grid transpose
    with torch.no_grad():  # W-major in, row-major out: feeding transposed tokens gives the fixed layout's answer
        fixed = twin(model, "pad-tiny-vit", **{"bigmoe.cpb_residual": False}).eval().adapters[0].bypass
        torch.testing.assert_close(bypass(t(prompt), t(gate)), fixed(prompt, gate))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_product_key_topk_equals_brute_force(seed, k):
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.randn(4, 2, 6, generator=gen), torch.randn(4, 2, 6, generator=gen)
    scores, ids = product_key_topk(a, b, k)
    brute_scores, brute_ids = (a[..., :, None] + b[..., None, :]).flatten(-2).topk(k, dim=-1)
    torch.testing.assert_close(scores, brute_scores)
    assert torch.equal(ids, brute_ids)


@pytest.mark.parametrize("seed", range(3))
def test_peer_routing_equals_search_over_all_experts(seed):
    torch.manual_seed(seed)
    peer = PEER(12, gate_dim=10, keys=5, heads=2, topk=2, key_dim=4)
    g = torch.randn(2, 7, 10)
    scores, ids = peer.route(g)
    q = peer.to_queries(peer.norm_g(g)).reshape(2, 7, 2, 2, 4)  # b n (p h c)
    s1 = torch.einsum("bnhc,hkc->bnhk", q[:, :, 0], peer.keys[0])
    s2 = torch.einsum("bnhc,hkc->bnhk", q[:, :, 1], peer.keys[1])
    every = (s1[..., :, None] + s2[..., None, :]).flatten(-2)  # b n h (5*5): all experts
    brute_scores, brute_ids = every.topk(2, dim=-1)
    torch.testing.assert_close(scores, brute_scores)
    assert torch.equal(ids, brute_ids) and ids.max() < 25


def test_cdc_with_theta_zero_is_a_plain_conv_and_cancels_constants_at_one():
    x = torch.randn(2, 4, 9, 9)
    cdc = CDConv2d(4, 5, theta=0.0)
    conv = nn.Conv2d(4, 5, 3, padding=1, bias=False)
    conv.weight = cdc.conv.weight
    torch.testing.assert_close(cdc(x), conv(x), rtol=0, atol=0)
    full = CDConv2d(4, 5, theta=1.0)
    flat = torch.ones(1, 4, 9, 9) * 3.0
    assert full(flat)[..., 1:-1, 1:-1].abs().max() < 1e-5  # no response to a locally constant patch


def test_eca_only_rescales_channels():
    x = torch.randn(2, 6, 5, 5)
    y = ECA(kernel_size=3)(x)
    ratio = y / x
    assert y.shape == x.shape and ((ratio > 0) & (ratio < 1)).all()
    torch.testing.assert_close(ratio, ratio[..., :1, :1].expand_as(ratio))
