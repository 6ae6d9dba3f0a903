"""bf16 autocast: every registered variant trains under CPU bf16 autocast, and every router computes in fp32.

CPU bf16 autocast applies the same casts a CUDA run does, so a dtype bug (e.g. an fp32 buffer receiving bf16
expert outputs in SUE's ``index_add_``) shows up here. Router outputs under autocast must equal the fp32
computation on the same fp32 input exactly (ST-MoE's selective precision: the router region runs with autocast
off), while the experts do run in bf16.
"""

import pytest
import torch

from pad_core.audit.check import fixed_batch
from pad_core.config import from_flat
from pad_core.losses import total_loss
from pad_core.models import create_model
from pad_core.models.atr.gates import TokenTypeGate
from pad_core.models.atr.mixing import GateMix
from pad_core.models.bigmoe.peer import PEER, DenseFFNExperts
from pad_core.models.moe.moae import MoAE
from pad_core.models.moe.routed import RoutedExperts, grouped_dispatch
from pad_core.models.moe.router_norms import ROUTER_NORMS
from pad_core.models.moe.soft_moe import SoftMoE
from pad_core.models.variants import VARIANTS

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"backbone.name": "pad-tiny-vit", "backbone.pretrained": "", "moe.soft.slots_per_expert": 4,
        "moe.moae.slots_per_expert": 4, "atr.image_size": 32, "atr.width": 8, "atr.levels": 2,
        "bigmoe.peer_keys": 8}
TORCHVISION_TWINS = {"resnet50": "resnet-tiny", "vit_b_16": "vit-tiny"}
# Toggles that take another precision path than the variants' defaults (router norms, top-k renormalisation,
# capacity drops, upcycled experts, dense BIG-MoE gate, the ATR mixes without a gate, trained text tower).
EXTRA_ROWS = {
    "softmoe_l2_scale": {"moe.kind": "soft", "moe.soft.norm": "l2_scale"},
    "softmoe_nonorm": {"moe.kind": "soft", "moe.soft.norm": "none"},
    "sue_renorm_capacity": {"moe.kind": "sue", "moe.sue.renorm_topk": True, "moe.sue.capacity_factor": 1.0},
    "both_sue_copy_mlp_text_trained": {"moe.kind": "sue", "moe.tower": "both", "moe.sue.routed_init": "copy_mlp",
                                       "backbone.train_text": True},
    "bigmoe_ffn": {"family": "bigmoe", "bigmoe.experts": "ffn"},
    "atr_cat": {"family": "atr", "atr.mix": "cat"},
}
ROWS = {**{name: VARIANTS.get(name) for name in VARIANTS.list()}, **EXTRA_ROWS}


def tiny_cfg(delta: dict):
    flat = {**TINY, **delta}
    flat["backbone.name"] = TORCHVISION_TWINS.get(flat["backbone.name"], flat["backbone.name"])
    return from_flat(flat)


def step(model, cfg, autocast: bool):
    """One forward + backward on the audit's fixed batch; returns (output, loss, grads by parameter name)."""
    model.zero_grad(set_to_none=True)
    inputs, targets = fixed_batch(cfg)
    torch.manual_seed(1)  # the same masks and modality drops in both precisions
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = model(inputs)
        loss, _ = total_loss(out, targets, cfg.head.loss, cfg.loss)
    loss.backward()
    return out, loss, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("row", list(ROWS))
def test_every_variant_trains_under_cpu_bf16_autocast(row):
    cfg = tiny_cfg(ROWS[row])
    torch.manual_seed(0)
    model = create_model(cfg).train()
    _, _, fp32_grads = step(model, cfg, autocast=False)
    out, loss, grads = step(model, cfg, autocast=True)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    missing = sorted(set(fp32_grads) - set(grads))
    bad = sorted(n for n, g in grads.items() if not g.isfinite().all())
    assert not missing and not bad, f"no bf16 grad: {missing[:5]}; non-finite: {bad[:5]}"
    assert all(g.dtype == torch.float32 for g in grads.values())  # master weights stay fp32
    assert out.logits.dtype == torch.float32  # the PAD score: bf16 logits would tie scores
    assert all(r.dtype == torch.float32 for r in out.routing.values())
    assert all(torch.isfinite(v).all() for v in (*out.aux.values(), *out.stats.values()))


def test_grouped_dispatch_takes_fp32_tokens_and_bf16_experts():
    """The text tower's residual stream is fp32 under autocast while the experts return bf16 (the both_sue crash:
    ``index_add_(): self (Float) and source (BFloat16)``)."""
    torch.manual_seed(0)
    layer = RoutedExperts(16, num_routed=4, top_k=2, hidden=32)
    x = torch.randn(10, 16)
    idx, weights = torch.randint(4, (10, 2)), torch.rand(10, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, keep = grouped_dispatch(x, idx, weights, layer.experts)
    reference, _ = grouped_dispatch(x, idx, weights, layer.experts)
    assert y.dtype == torch.bfloat16 and keep.all()
    torch.testing.assert_close(y.float(), reference, atol=0.05, rtol=0.05)


def both(fn, *args):
    """``fn(*args)`` without and with CPU bf16 autocast."""
    reference = fn(*args)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return reference, fn(*args)


def assert_same(reference, autocast, what: str):
    assert autocast.dtype == torch.float32, f"{what} is {autocast.dtype} under autocast"
    torch.testing.assert_close(autocast, reference, atol=1e-6, rtol=0, msg=what)


def tokens(b: int = 2, n: int = 33, d: int = 64) -> torch.Tensor:
    # x3: logits of a few tens, the magnitude where bf16 rounding moves the softmax visibly
    return 3 * torch.randn(b, n, d, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize("norm", ["rms_both", "l2_scale", "none"])
def test_softmoe_routing_is_fp32_under_autocast(norm):
    torch.manual_seed(0)
    layer = SoftMoE(64, num_experts=4, slots_per_expert=8, norm_layer=ROUTER_NORMS.get(norm)).eval()
    reference, autocast = both(layer, tokens())
    assert autocast.x.dtype == torch.bfloat16  # the experts and the combine do run in bf16
    assert_same(reference.routing, autocast.routing, "combine shares per expert")
    for key in ("combine_entropy", "slot_weight_max", "dispatch_max"):
        assert_same(reference.stats[key], autocast.stats[key], key)


def test_moae_routing_is_fp32_under_autocast():
    torch.manual_seed(0)
    layer = MoAE(64, num_experts=4, heads=2, slots_per_expert=8).eval()
    reference, autocast = both(layer, tokens())
    assert autocast.x.dtype == torch.bfloat16
    assert_same(reference.routing, autocast.routing, "combine shares per expert")
    for key in ("combine_entropy", "slot_weight_max"):
        assert_same(reference.stats[key], autocast.stats[key], key)


def test_sue_gate_is_fp32_under_autocast():
    torch.manual_seed(0)
    layer = RoutedExperts(64, num_routed=8, top_k=2, hidden=64)
    reference, autocast = both(layer, tokens())
    assert autocast.x.dtype == torch.bfloat16
    assert torch.equal(reference.routing, autocast.routing)  # the same top-k choices
    assert_same(reference.stats["router_entropy"], autocast.stats["router_entropy"], "router entropy")
    for key in ("router_z", "balance"):
        assert_same(reference.aux[key], autocast.aux[key], key)


def test_bigmoe_routers_are_fp32_under_autocast():
    torch.manual_seed(0)
    peer, dense = PEER(24, gate_dim=64, keys=6, heads=2, topk=2, key_dim=8), DenseFFNExperts(24, gate_dim=64)
    (ref_scores, ref_ids), (scores, ids) = both(peer.route, tokens())
    assert torch.equal(ref_ids, ids)
    assert_same(ref_scores, scores, "PEER product-key scores")
    assert_same(*both(dense.route, tokens()), "dense gate weights")


def test_atr_type_gate_is_fp32_under_autocast():
    torch.manual_seed(0)
    mix = GateMix(experts=3, depth_bins=4, per_frame=True, make_gate=lambda: TokenTypeGate(64, width=8, experts=3))
    logits = [torch.randn(6, 4, 5, 5) for _ in range(3)]
    reference, autocast = both(mix, logits, tokens(1, 6, 64)[0], 3)  # 2 samples x 3 frames of 64-d CLS
    assert_same(reference[1], autocast[1], "type gate logits")
