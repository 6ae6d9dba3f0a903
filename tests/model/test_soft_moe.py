"""SoftMoE / MMoE layer invariants (METHODS.md §2, §7.1, §9 #4)."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pad_core.models.moe.experts import BatchedExperts, expert_cosine_distance
from pad_core.models.moe.mask import exact_count_mask, zero_counts
from pad_core.models.moe.router_norms import ROUTER_NORMS
from pad_core.models.moe.soft_moe import SoftMoE

D, N, E, S = 32, 17, 4, 5


def layer(norm: str = "rms_both", **kw) -> SoftMoE:
    torch.manual_seed(0)
    return SoftMoE(D, num_experts=E, slots_per_expert=S, norm_layer=ROUTER_NORMS.get(norm), **kw)


def twin(a: SoftMoE, norm: str = "rms_both", **kw) -> SoftMoE:
    b = SoftMoE(D, num_experts=E, slots_per_expert=S, norm_layer=ROUTER_NORMS.get(norm), **kw)
    b.load_state_dict(a.state_dict())
    return b


def test_shapes_and_convex_combine():
    x = torch.randn(3, N, D)
    out = layer()(x)
    assert out.x.shape == x.shape
    assert set(out.aux) == {"moe_cosine"} and out.aux["moe_cosine"].ndim == 0


@pytest.mark.parametrize("norm", ROUTER_NORMS.list())
def test_mask_rates_zero_equal_plain_softmoe(norm):
    plain = layer(norm=norm).train()
    zeros = twin(plain, norm=norm, mask_rates=(0.0,) * E).train()
    x = torch.randn(2, N, D)
    torch.testing.assert_close(zeros(x).x, plain(x).x, rtol=0, atol=0)


def test_no_mask_in_eval():
    plain = layer().eval()
    masked = twin(plain, mask_rates=(0.0, 0.5, 0.5, 0.5)).eval()
    x = torch.randn(2, N, D)
    torch.testing.assert_close(masked(x).x, plain(x).x, rtol=0, atol=0)
    assert not torch.equal(masked.train()(x).x, plain.train()(x).x)  # and it does mask in training


@pytest.mark.parametrize("rates", [(0.0, 0.1, 0.1, 0.1), (0.1, 0.1, 0.1, 0.1), (0.0, 0.15, 0.30, 0.45), (0.5,) * 4])
def test_exact_zero_count_per_expert_and_sample(rates):
    mask = exact_count_mask(8, N, S, rates)
    assert mask.shape == (8, N, E, S)
    zeros = (mask == 0).sum(dim=(1, 3))  # b e
    expected = torch.tensor([math.floor(r * N * S + 0.5) for r in rates])
    assert torch.equal(zeros, expected.expand(8, E))
    assert zero_counts(rates, N, S) == expected.tolist()
    masked_experts = [i for i, r in enumerate(rates) if r > 0]
    if masked_experts:  # positions are resampled per sample
        i = masked_experts[0]
        assert not torch.equal(mask[0, :, i], mask[1, :, i])


def test_injected_mask_multiplies_dispatch_without_renormalisation():
    moe = layer(norm="none").train()
    x = torch.randn(2, N, D)
    mask = exact_count_mask(2, N, S, (0.0, 0.3, 0.3, 0.3))
    logits = torch.einsum("bnd,esd->bnes", x, moe.phi)
    slots = torch.einsum("bnes,bnd->besd", logits.softmax(dim=1) * mask, x)
    combine = logits.flatten(2).softmax(-1)  # from the unmasked logits
    expected = torch.einsum("bnz,bzd->bnd", combine, moe.experts(slots).flatten(1, 2))
    torch.testing.assert_close(moe(x, mask=mask).x, expected)


def test_cosine_distance_matches_eq3_loop():
    y = torch.randn(3, E, S, D)
    total = 0.0
    for b in range(3):
        for j in range(S):
            for i in range(1, E):
                total += 1 - F.cosine_similarity(y[b, 0, j], y[b, i, j], dim=0)
    assert expert_cosine_distance(y, 0) == pytest.approx(float(total) / (3 * S), rel=1e-5)  # (1/B)(1/s) sums
    assert 0 <= float(expert_cosine_distance(y, 2)) <= 2 * (E - 1)


def test_detach_ref_stops_gradient_to_the_reference_expert():
    y = torch.randn(2, E, S, D, requires_grad=True)
    expert_cosine_distance(y, 0, detach_ref=True).backward()
    assert y.grad[:, 0].abs().sum() == 0 and y.grad[:, 1:].abs().sum() > 0


def test_norm_semantics():
    x, phi = torch.randn(2, N, D), torch.randn(E, S, D)
    xk, pk, xs = ROUTER_NORMS.get("rms_both")(D)(x, phi)
    cos = torch.einsum("bnd,esd->bnes", F.normalize(x, dim=-1), F.normalize(phi, dim=-1))
    torch.testing.assert_close(torch.einsum("bnd,esd->bnes", xk, pk), D * cos)  # RMS both sides: d * cos
    torch.testing.assert_close(xs, xk)  # slots see the normalised tokens
    xk, pk, xs = ROUTER_NORMS.get("l2_scale")(D)(x, phi)
    torch.testing.assert_close(torch.einsum("bnd,esd->bnes", xk, pk), cos)  # scalar init 1: plain cos
    assert xs is x  # slots see the raw tokens


@pytest.mark.parametrize("norm", ROUTER_NORMS.list())
def test_every_parameter_gets_a_gradient(norm):
    moe = layer(norm=norm, mask_rates=(0.0, 0.1, 0.1, 0.1)).train()
    out = moe(torch.randn(2, N, D))
    (out.x.square().mean() + out.aux["moe_cosine"]).backward()
    for name, p in moe.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("b, e, s", [(3, 4, 5), (1, 2, 7)])
def test_batched_experts_are_the_per_expert_linear_pairs(b, e, s):
    """The baddbmm form equals each expert's own Linear -> GELU -> Linear on its slots (up to float rounding)."""
    torch.manual_seed(0)
    experts = BatchedExperts(6, num_experts=e, hidden=10)
    pairs = [(nn.Linear(6, 10), nn.Linear(10, 6)) for _ in range(e)]
    experts.load_linear_pairs(pairs)
    x = torch.randn(b, e, s, 6)
    expected = torch.stack([fc2(F.gelu(fc1(x[:, i]))) for i, (fc1, fc2) in enumerate(pairs)], dim=1)
    torch.testing.assert_close(experts(x), expected)
