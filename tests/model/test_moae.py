"""MoAE (METHODS.md §4(a)): the reduction to SoftMoE and the multi-head mechanics."""

import pytest
import torch

from pad_core.models.moe.moae import IdentityProjection, MoAE
from pad_core.models.moe.router_norms import NoNorm
from pad_core.models.moe.soft_moe import SoftMoE

D, N, E, S = 32, 13, 4, 3


def test_one_head_identity_projections_no_scaling_is_softmoe_norm_none():
    torch.manual_seed(0)
    moae = MoAE(D, num_experts=E, heads=1, slots_per_expert=S, qkv_layer=IdentityProjection,
                out_layer=IdentityProjection, scale=False)
    soft = SoftMoE(D, num_experts=E, slots_per_expert=S, norm_layer=NoNorm)
    with torch.no_grad():
        soft.phi.copy_(moae.phi.view(E, S, D))
        soft.experts.load_state_dict(moae.experts.state_dict())
    x = torch.randn(2, N, D)
    torch.testing.assert_close(moae(x).x, soft(x).x, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(moae(x).routing, soft(x).routing)


@pytest.mark.parametrize("heads", [1, 2, 4, 8])
def test_heads_share_experts_of_width_d_over_h(heads):
    moae = MoAE(D, num_experts=E, heads=heads, slots_per_expert=S)
    assert moae.experts.w1.shape == (E, D // heads, 4 * D // heads)
    out = moae(torch.randn(3, N, D))
    assert out.x.shape == (3, N, D) and out.routing.shape == (3, E)
    torch.testing.assert_close(out.routing.sum(-1), torch.ones(3))
    out.x.square().mean().backward()
    assert all(p.grad is not None and p.grad.any() for p in moe_params(moae))


def moe_params(m):
    return [p for p in m.parameters() if p.requires_grad]


def test_scale_is_one_over_sqrt_head_width():
    assert MoAE(D, heads=2).scale == pytest.approx((D // 2) ** -0.5)
    with pytest.raises(ValueError, match="not divisible"):
        MoAE(30, heads=4)
