"""SUEDE's balance loss per image (Switch/ST-MoE groups) or over the pooled batch, and the hash rule that keeps
every config the option does not act on at its old hash.

References are computed here by a plain loop over images and experts, independently of the vectorised code.
"""

from __future__ import annotations

import pytest
import torch

from pad_core.config import RunCfg, config_hash, from_flat, scale_overrides, to_params
from pad_core.config.flat import all_keys, legacy_rules
from pad_core.models import VARIANTS, create_model
from pad_core.models.moe.routed import RoutedExperts, load_balance_loss

D, R, K = 8, 4, 2


def reference(probs, idx, valid, images: int, count: str = "top1", pooled: bool = False) -> float:
    """N * sum_i f_i P_i by loops: per image then the mean over images with a valid token, or once over all."""
    probs, idx, valid = probs.view(images, -1, R), idx.view(images, -1, idx.shape[-1]), valid.view(images, -1)
    groups = [[(probs[g, t], idx[g, t]) for t in range(probs.shape[1]) if valid[g, t]] for g in range(images)]
    if pooled:
        groups = [[token for group in groups for token in group]]
    losses = []
    for tokens in groups:
        if not tokens:
            continue
        chosen = [c[:1] if count == "top1" else c for _, c in tokens]
        f = [sum(float((c == i).sum()) for c in chosen) / (len(tokens) * len(chosen[0])) for i in range(R)]
        p = [sum(float(pr[i]) for pr, _ in tokens) / len(tokens) for i in range(R)]
        losses.append(R * sum(f[i] * p[i] for i in range(R)))
    return sum(losses) / len(losses)


def routed(seed: int, groups: int, tokens: int, with_mask: bool):
    gen = torch.Generator().manual_seed(seed)
    probs = torch.randn(groups * tokens, R, generator=gen).mul(2).softmax(-1)
    idx = probs.topk(K).indices
    valid = torch.rand(groups * tokens, generator=gen) < 0.6 if with_mask else torch.ones(groups * tokens, dtype=bool)
    return probs, idx, valid


def test_per_image_and_pooled_losses_by_hand():
    """Image 0 sends its 3 tokens to expert 0 (P = .7), image 1 to expert 1: each image alone is as unbalanced as can
    be (4 * .7 = 2.8), the pooled batch looks half balanced (f = (.5, .5, 0, 0), P = (.4, .4, .1, .1): 1.6)."""
    one = torch.tensor([[0.7, 0.1, 0.1, 0.1]] * 3 + [[0.1, 0.7, 0.1, 0.1]] * 3)
    idx = one.topk(K).indices
    assert float(load_balance_loss(one, idx, groups=2)) == pytest.approx(2.8)
    assert float(load_balance_loss(one, idx)) == pytest.approx(1.6)


@pytest.mark.parametrize("count", ["top1", "topk"])
@pytest.mark.parametrize("with_mask", [False, True])
def test_per_image_loss_equals_a_loop_over_images(count, with_mask):
    probs, idx, valid = routed(0, groups=5, tokens=7, with_mask=with_mask)
    mask = valid if with_mask else None
    grouped = float(load_balance_loss(probs, idx, count=count, valid=mask, groups=5))
    pooled = float(load_balance_loss(probs, idx, count=count, valid=mask))
    assert grouped == pytest.approx(reference(probs, idx, valid, 5, count), rel=1e-6)
    assert pooled == pytest.approx(reference(probs, idx, valid, 5, count, pooled=True), rel=1e-6)
    assert grouped != pytest.approx(pooled, rel=1e-3)  # the two groupings differ beyond one image


def test_an_image_without_valid_tokens_stays_out_of_the_mean():
    probs, idx, valid = routed(1, groups=3, tokens=4, with_mask=False)
    valid = valid.clone()
    valid[4:8] = False  # image 1: all padding
    got = float(load_balance_loss(probs, idx, valid=valid, groups=3))
    assert got == pytest.approx(reference(probs, idx, valid, 3), rel=1e-6)
    assert got == pytest.approx((reference(probs[:4], idx[:4], valid[:4], 1)
                                 + reference(probs[8:], idx[8:], valid[8:], 1)) / 2, rel=1e-6)


@pytest.mark.parametrize("count", ["top1", "topk"])
def test_the_groupings_agree_at_batch_size_one(count):
    probs, idx, valid = routed(2, groups=1, tokens=9, with_mask=True)
    grouped = load_balance_loss(probs, idx, count=count, valid=valid, groups=1)
    torch.testing.assert_close(grouped, load_balance_loss(probs, idx, count=count, valid=valid))


def test_the_layer_groups_by_image_and_masks_text_padding():
    torch.manual_seed(4)
    image = RoutedExperts(D, num_routed=R, top_k=K, hidden=16)
    batch = RoutedExperts(D, num_routed=R, top_k=K, hidden=16, balance_group="batch")
    batch.load_state_dict(image.state_dict())
    x = torch.randn(3, 5, D)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    image.token_mask = batch.token_mask = mask
    probs = image.gate(x.flatten(0, 1)).softmax(-1).detach()
    idx = probs.topk(K).indices
    got_image, got_batch = image(x).aux["balance"].detach(), batch(x).aux["balance"].detach()
    assert float(got_image) == pytest.approx(reference(probs, idx, mask.flatten(), 3), rel=1e-5)
    assert float(got_batch) == pytest.approx(reference(probs, idx, mask.flatten(), 3, pooled=True), rel=1e-5)
    image.token_mask = batch.token_mask = None
    one = x[:1]
    torch.testing.assert_close(image(one).aux["balance"], batch(one).aux["balance"])


@pytest.mark.parametrize("group", ["image", "batch"])
def test_the_config_reaches_every_routed_layer(group, one_thread):
    cfg = from_flat({**scale_overrides("smoke"), **VARIANTS.get("sue"), "moe.sue.balance_group": group})
    layers = [m for m in create_model(cfg).modules() if isinstance(m, RoutedExperts)]
    assert layers and all(m.balance_group == group for m in layers)


def test_a_group_is_one_image_or_one_prompt_in_the_clip_towers(one_thread):
    """The layers see batch-first sequences (b n d), so groups=b makes one group per image (visual tower) and per
    prompt (text tower), not per token position."""
    cfg = from_flat({**scale_overrides("smoke"), **VARIANTS.get("sue"), "moe.tower": "both"})
    torch.manual_seed(0)
    model = create_model(cfg).train()
    seen: list[tuple[int, int]] = []
    for layer in (m for m in model.modules() if isinstance(m, RoutedExperts)):
        layer.register_forward_pre_hook(lambda mod, args: seen.append((args[0].shape[0], args[0].shape[1])))
    model(torch.randn(3, 3, 64, 64))
    prompts = model.head.tokens
    assert (3, model.clip.visual.positional_embedding.shape[0]) in seen
    assert tuple(prompts.shape) in seen
    assert all(shape in ((3, model.clip.visual.positional_embedding.shape[0]), tuple(prompts.shape)) for shape in seen)


# Hashes at commit 286d6ce, before moe.sue.balance_group existed (runs then computed the pooled batch form).
OLD_HASHES = {"none": "4b08db1c22e9", "soft": "8bc0ddb7feab", "moae": "509067dc1c0a", "sue": "776d3a27daaf"}


def test_the_default_config_keeps_its_hash():
    assert config_hash(RunCfg()) == OLD_HASHES["none"]


@pytest.mark.parametrize("kind", ["none", "soft", "moae"])
@pytest.mark.parametrize("group", ["image", "batch"])
def test_configs_the_grouping_does_not_act_on_keep_their_hash(kind, group):
    assert config_hash(from_flat({"moe.kind": kind, "moe.sue.balance_group": group})) == OLD_HASHES[kind]


def test_a_suede_config_gets_a_new_hash_unless_it_asks_for_the_pooled_batch():
    """Its recorded runs computed the pooled form: reusing them for the per-image default would be wrong."""
    assert config_hash(from_flat({"moe.kind": "sue"})) != OLD_HASHES["sue"]
    assert config_hash(from_flat({"moe.kind": "sue", "moe.sue.balance_group": "image"})) != OLD_HASHES["sue"]
    assert config_hash(from_flat({"moe.kind": "sue", "moe.sue.balance_group": "batch"})) == OLD_HASHES["sue"]


@pytest.mark.parametrize("key", sorted(legacy_rules()))
def test_a_changed_field_is_hashed_only_where_it_acts_and_leaves_its_legacy_value(key):
    """The rule for every ``changed(legacy, when, unless)`` field (hash_rules.py), whatever the field."""
    legacy, when, unless = legacy_rules()[key]
    assert when and all(k in all_keys() for k, _ in when), key
    default = to_params(RunCfg())[key]
    assert default != legacy, f"{key}: a default equal to its legacy value is schema.ADDED's case"
    idle = from_flat({key: legacy})  # RunCfg() does not meet the conditions: the field changes nothing there
    assert config_hash(idle) == config_hash(RunCfg()) == config_hash(from_flat({key: default}))
    acting = dict(when)
    assert config_hash(from_flat({**acting, key: legacy})) != config_hash(from_flat(acting))
    for k, v in unless:  # any one of these stops it acting: both values hash alike again
        assert config_hash(from_flat({**acting, k: v, key: legacy})) == config_hash(from_flat({**acting, k: v}))


def test_suede_configs_that_weight_no_balance_term_keep_their_hash():
    """balance_w = 0 leaves the term out of the loss: nothing the run trains changes, so its recorded runs stay
    reusable (only the logged, unweighted `balance` value differs)."""
    legacy = config_hash(from_flat({"moe.kind": "sue", "loss.balance_w": 0.0, "moe.sue.balance_group": "batch"}))
    assert config_hash(from_flat({"moe.kind": "sue", "loss.balance_w": 0.0})) == legacy
