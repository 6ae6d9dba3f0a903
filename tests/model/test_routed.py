"""SUEDE's routed experts: grouped dispatch vs a naive loop, routing losses on hand-made logits, masks."""

import math

import pytest
import torch
from torch.nn import functional as F

from pad_core.models.moe.experts import BatchedExperts
from pad_core.models.moe.routed import RoutedExperts, grouped_dispatch, load_balance_loss, router_z_loss

D, R, K = 16, 4, 2


def naive(x, idx, weights, experts: BatchedExperts):
    out = torch.zeros_like(x)
    for t in range(len(x)):
        for j in range(idx.shape[1]):
            e = int(idx[t, j])
            h = experts.act(x[t] @ experts.w1[e] + experts.b1[e])
            out[t] += weights[t, j] * (h @ experts.w2[e] + experts.b2[e])
    return out


def test_grouped_dispatch_equals_a_loop_over_tokens():
    torch.manual_seed(0)
    experts = BatchedExperts(D, num_experts=R, hidden=32)
    x = torch.randn(50, D)
    weights, idx = torch.randn(50, R).softmax(-1).topk(K)
    out, keep = grouped_dispatch(x, idx, weights, experts)
    torch.testing.assert_close(out, naive(x, idx, weights, experts), rtol=1e-5, atol=1e-6)
    assert keep.all()  # dropless by default


def test_capacity_drops_the_overflow_only():
    experts = BatchedExperts(D, num_experts=R, hidden=8)
    x = torch.randn(10, D)
    idx = torch.zeros(10, 1, dtype=torch.long)  # every token to expert 0
    out, keep = grouped_dispatch(x, idx, torch.ones(10, 1), experts, capacity=4)
    assert keep.sum() == 4 and (out[4:] == 0).all() and (out[:4] != 0).any()


def test_z_loss_and_balance_loss_by_hand():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [math.log(3), 0.0, 0.0, 0.0]])
    assert float(router_z_loss(logits)) == pytest.approx((math.log(4) ** 2 + math.log(6) ** 2) / 2)
    probs = logits.softmax(-1)
    idx = torch.tensor([[1, 0], [0, 2]])  # top-1 choices: expert 1, expert 0
    p_mean = probs.mean(0)
    expected_top1 = 4 * (0.5 * p_mean[1] + 0.5 * p_mean[0])
    assert float(load_balance_loss(probs, idx)) == pytest.approx(float(expected_top1))
    expected_topk = 4 * float((torch.tensor([2, 1, 1, 0]) / 4 * p_mean).sum())
    assert float(load_balance_loss(probs, idx, count="topk")) == pytest.approx(expected_topk)
    uniform = torch.full((8, 4), 0.25)
    balanced_idx = torch.arange(8)[:, None] % 4
    assert float(load_balance_loss(uniform, balanced_idx)) == pytest.approx(1.0)  # the minimum


def test_switch_transformer_formulas():
    """Same numbers as the Switch/ST-MoE definitions written out (HF router_z_loss_func, load_balancing_loss_func)."""
    torch.manual_seed(1)
    logits = torch.randn(64, R)
    z_ref = torch.logsumexp(logits, -1).square().sum() / 64
    probs = logits.softmax(-1)
    top1 = probs.argmax(-1)
    mask = F.one_hot(top1, R).float()
    lb_ref = torch.mean(mask.mean(0) * probs.mean(0)) * R**2
    assert float(router_z_loss(logits)) == pytest.approx(float(z_ref), rel=1e-6)
    assert float(load_balance_loss(probs, probs.topk(2).indices)) == pytest.approx(float(lb_ref), rel=1e-6)


def test_padding_tokens_stay_out_of_the_routing_losses():
    torch.manual_seed(2)
    layer = RoutedExperts(D, num_routed=R, top_k=K, hidden=32)
    x = torch.randn(2, 6, D)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], dtype=torch.bool)
    layer.token_mask = mask
    masked = layer(x).aux
    layer.token_mask = None
    logits = layer.gate(x[mask])
    assert float(masked["router_z"].detach()) == pytest.approx(float(router_z_loss(logits.detach())))
    assert float(masked["router_z"]) != pytest.approx(float(layer(x).aux["router_z"].detach()))


def test_renorm_topk_weights_sum_to_one():
    torch.manual_seed(3)
    layer = RoutedExperts(D, num_routed=R, top_k=K, hidden=32, renorm_topk=True)
    plain = RoutedExperts(D, num_routed=R, top_k=K, hidden=32)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(1, 5, D)
    assert not torch.allclose(layer(x).x, plain(x).x)
    assert layer(x).routing.shape == (1, R)


@pytest.mark.parametrize("group, means", [("batch", [torch.Size([15, R])] * 2), ("image", [torch.Size([3])])])
def test_balance_loss_takes_every_ranks_rows_in_training_only(monkeypatch, group, means):
    """Under DDP the balance statistics are means over all ranks: f and P over every token (pooled batch), or the
    per-image losses over every image; evaluation keeps them local (ranks score shards of different lengths: no
    collective there)."""
    import pad_core.engine.distributed as distributed

    calls = []

    def spy(x):
        calls.append(x.shape)
        return x.mean(dim=0)

    monkeypatch.setattr(distributed, "global_mean", spy)
    layer = RoutedExperts(D, num_routed=R, top_k=K, hidden=32, balance_group=group)
    x = torch.randn(3, 5, D)
    trained = layer.train()(x).aux["balance"]
    assert calls == means  # f and P (2 means over 15 tokens), or 1 mean over 3 images
    evaluated = layer.eval()(x).aux["balance"]
    assert calls == means
    torch.testing.assert_close(trained, evaluated)  # one process: the global mean is the local one
