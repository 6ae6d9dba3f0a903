"""Batch-level losses under DDP are the 1-worker losses of the global batch: values and DDP-averaged gradients.

Two processes with a gloo group on 127.0.0.1 (no Ray) train one step of a tiny CLIP on 4 samples each; this
process computes the same step on the 8-sample global batch. One spawn serves every case (start-up dominates).
"""

from __future__ import annotations

import re
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from pad_core.config import from_flat, scale_overrides
from pad_core.engine import NonFiniteLoss, RunContext, TrainingRun, distributed
from pad_core.engine.distributed import FiniteWatch, find_unused_parameters, global_mean
from pad_core.losses import total_loss
from pad_core.models import VARIANTS, create_model
from pad_core.models.moe.routed import RoutedExperts, load_balance_loss

WORLD, SHARD = 2, 4
# rank 0's shard is one class only: the per-rank code skipped CR/metric losses there; the global batch has both
LABELS = torch.tensor([0, 0, 0, 0, 1, 0, 1, 1])
CASES = {  # case -> (config overrides, the batch-level term it checks)
    "clip_symmetric": ({"head.loss": "clip_symmetric", "backbone.train_text": True}, "cls"),
    "cr_repaired": ({"loss.cr_mode": "repaired", "loss.cr_t": 0.0}, "cdm"),
    "cr_repaired_dm": ({"loss.cr_mode": "repaired", "loss.cr_t": 0.0, "loss.cdm_w": 0.0}, "dm"),
    "cr_literal": ({"loss.cr_mode": "literal", "loss.cr_t": 0.0}, "cdm"),
    **{m: ({"loss.metric": m}, f"metric_{m}") for m in ("supcon", "npair", "triplet", "hard_triplet")},
}


def case_cfg(case: str):
    return from_flat({**scale_overrides("smoke"), **VARIANTS.get("clip"), **CASES[case][0]})


def global_images() -> torch.Tensor:
    return torch.randn(WORLD * SHARD, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def step(model: torch.nn.Module, cfg, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict]:
    out = model(images)
    loss, terms = total_loss(out, labels, cfg.head.loss, cfg.loss)
    loss.backward()
    return loss.detach(), {k: float(v.detach()) for k, v in terms.items()}


def flat_grads(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad])


def balance_tokens() -> list[torch.Tensor]:
    """Unequal token counts per rank (as valid text tokens would be): 5 and 7 tokens of width 6."""
    gen = torch.Generator().manual_seed(2)
    return [torch.randn(5, 6, generator=gen), torch.randn(7, 6, generator=gen)]


def balance_step(gate: torch.nn.Module, tokens: torch.Tensor, *, global_stats: bool) -> torch.Tensor:
    """The Switch balance loss N sum_i f_i P_i, from global batch means through ``global_mean`` or in one piece."""
    probs = gate(tokens).softmax(dim=-1)
    idx = probs.topk(2, dim=-1).indices
    if not global_stats:
        return load_balance_loss(probs, idx)
    f = global_mean(torch.nn.functional.one_hot(idx[:, 0], probs.shape[-1]).float())
    return probs.shape[-1] * (f * global_mean(probs)).sum()


def grouped_tokens() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per rank: (images x tokens x width, valid mask). Unequal image counts (2 and 4) and valid tokens per image;
    rank 1's last image has no valid token (it stays out of the mean over images on every rank)."""
    gen = torch.Generator().manual_seed(3)
    masks = [torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]),
             torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])]
    return [(torch.randn(len(m), 4, 6, generator=gen), m.bool()) for m in masks]


def grouped_balance_step(gate: torch.nn.Module, tokens: torch.Tensor, valid: torch.Tensor,
                         mean=None) -> torch.Tensor:
    """The per-image (``moe.sue.balance_group=image``) balance loss, as RoutedExperts computes it while training."""
    probs = gate(tokens.flatten(0, 1)).softmax(dim=-1)
    idx = probs.topk(2, dim=-1).indices
    return load_balance_loss(probs, idx, valid=valid.flatten(), mean=mean, groups=tokens.shape[0])


def worker(rank: int, port: int, out_path: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    results: dict = {}
    shard = slice(rank * SHARD, (rank + 1) * SHARD)
    for case in CASES:
        cfg = case_cfg(case)
        torch.manual_seed(0)
        # find_unused_parameters as the Ray Train path decides it: a second step would fail if the claim were wrong
        ddp = DistributedDataParallel(create_model(cfg).train(), find_unused_parameters=find_unused_parameters(cfg))
        loss, terms = step(ddp, cfg, global_images()[shard], LABELS[shard])
        dist.all_reduce(loss)
        results[case] = {"loss": float(loss) / WORLD, "terms": terms, "grads": flat_grads(ddp.module)}
    torch.manual_seed(0)
    gate = DistributedDataParallel(torch.nn.Linear(6, 4, bias=False))
    balance = balance_step(gate, balance_tokens()[rank], global_stats=True)
    balance.backward()
    results["balance"] = {"loss": float(balance), "grads": gate.module.weight.grad.clone()}
    torch.manual_seed(0)
    gate = DistributedDataParallel(torch.nn.Linear(6, 4, bias=False))
    grouped = grouped_balance_step(gate, *grouped_tokens()[rank], mean=global_mean)
    grouped.backward()
    results["grouped_balance"] = {"loss": float(grouped), "grads": gate.module.weight.grad.clone()}
    watch = FiniteWatch(first_step=10)  # steps 11..13; rank 1's loss is NaN at step 12, rank 0 stays finite
    for i in range(3):
        bad = rank == 1 and i == 1
        loss = torch.tensor(float("nan") if bad else 1.0)
        watch.update(loss, {"cls": loss, "loss": loss})
    results["watch"] = watch.check()
    torch.save(results, f"{out_path}.r{rank}")
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory, one_thread) -> tuple[dict, dict]:
    path = str(tmp_path_factory.mktemp("ddp") / "results")
    mp.spawn(worker, args=(free_port(), path), nprocs=WORLD, join=True)
    return tuple(torch.load(f"{path}.r{rank}") for rank in range(WORLD))


@pytest.mark.parametrize("case", list(CASES))
def test_two_workers_optimise_the_global_batch_loss(case, ranks):
    cfg, term = case_cfg(case), CASES[case][1]
    torch.manual_seed(0)
    model = create_model(cfg).train()
    loss, terms = step(model, cfg, global_images(), LABELS)
    for rank in ranks:  # the batch-level term is the global batch's on every rank (rank 0 alone is one class)
        assert rank[case]["terms"].get("skipped_one_class", 0.0) == 0.0
        assert rank[case]["terms"][term] == pytest.approx(terms[term], rel=1e-5, abs=1e-6)
    # per-sample terms (ce2) are per rank: their mean over ranks is the global mean
    assert ranks[0][case]["loss"] == pytest.approx(float(loss), rel=1e-5, abs=1e-6)
    # DDP's averaged gradient is the 1-worker gradient of the global batch
    torch.testing.assert_close(ranks[0][case]["grads"], flat_grads(model), rtol=1e-4, atol=1e-5)


def test_global_mean_gives_the_one_worker_balance_loss_and_gradient(ranks):
    torch.manual_seed(0)
    gate = torch.nn.Linear(6, 4, bias=False)
    loss = balance_step(gate, torch.cat(balance_tokens()), global_stats=False)
    loss.backward()
    for rank in ranks:
        assert rank["balance"]["loss"] == pytest.approx(float(loss.detach()), rel=1e-6)
    torch.testing.assert_close(ranks[0]["balance"]["grads"], gate.weight.grad, rtol=1e-5, atol=1e-6)


def test_global_mean_gives_the_one_worker_per_image_balance_loss_and_gradient(ranks):
    """Per-image groups: every rank's images enter one mean over images (not a mean of per-rank means: rank 0 has
    2 images, rank 1 three valid ones of 4), with the 1-worker gradient after DDP's average."""
    torch.manual_seed(0)
    gate = torch.nn.Linear(6, 4, bias=False)
    parts = grouped_tokens()
    loss = grouped_balance_step(gate, torch.cat([t for t, _ in parts]), torch.cat([m for _, m in parts]))
    loss.backward()
    for rank in ranks:
        assert rank["grouped_balance"]["loss"] == pytest.approx(float(loss.detach()), rel=1e-6)
    torch.testing.assert_close(ranks[0]["grouped_balance"]["grads"], gate.weight.grad, rtol=1e-5, atol=1e-6)


def test_a_nan_on_one_rank_stops_every_rank_at_its_step(ranks):
    for rank in ranks:
        assert rank["watch"].startswith("loss is nan at step 12 (terms {'cls': nan, 'loss': nan})")
        assert rank["watch"].endswith("[rank 1 of 2]")


def test_single_process_helpers_are_the_identity():
    x = torch.randn(3, 2, requires_grad=True)
    assert distributed.world_size() == 1
    assert distributed.gather_with_grad(x) is x and distributed.gather(x) is x
    torch.testing.assert_close(global_mean(x), x.mean(dim=0))
    watch = FiniteWatch(first_step=0)
    watch.update(torch.tensor(1.0), {"loss": torch.tensor(1.0)})
    assert watch.check() is None
    watch.update(torch.tensor(float("inf")), {"loss": torch.tensor(float("inf"))})
    watch.update(torch.tensor(float("nan")), {"loss": torch.tensor(float("nan"))})
    assert watch.check() == "loss is inf at step 2 (terms {'loss': inf})"  # the first bad step, not the last


def test_routed_experts_without_tokens_still_get_a_gradient(one_thread):
    """The claim behind find_unused_parameters=False for SUE: every expert tensor is in every step's graph."""
    cfg = from_flat({**scale_overrides("smoke"), **VARIANTS.get("sue"), "moe.sue.num_routed": 8,
                     "moe.sue.top_k": 1, "moe.layers": (0,)})
    assert not find_unused_parameters(cfg)
    torch.manual_seed(0)
    model = create_model(cfg).train()
    gates = [m.gate for m in model.modules() if isinstance(m, RoutedExperts)]
    with torch.no_grad():
        gates[0].weight.zero_()  # equal logits: top-1 sends every token to the same expert
    out = model(global_images()[:2])
    total_loss(out, LABELS[:2], cfg.head.loss, cfg.loss)[0].backward()
    assert (out.routing["v0"].sum(dim=0) == 0).sum() >= 4  # most experts received no token
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_a_diverging_run_stops_before_evaluating_or_saving_nan_weights(one_thread, tmp_path):
    """The finiteness check is deferred (no host sync per step) but always runs before a window's evaluation."""
    cfg = from_flat({**scale_overrides("smoke"), **VARIANTS.get("mmoe"), "train.steps": 6, "train.eval_every": 3,
                     "optim.lr": 1e30, "optim.name": "sgd"})
    reported: list[int] = []
    ctx = RunContext(report=lambda *, metrics, checkpoint_dir=None, tags=None: reported.append(int(metrics["step"])),
                     workdir=str(tmp_path))
    with pytest.raises(NonFiniteLoss, match=r"loss is (nan|inf) at step \d+ \(terms \{'cls': ") as err:
        TrainingRun(cfg, ctx).fit()
    first_bad = int(re.search(r"at step (\d+)", str(err.value)).group(1))
    assert all(step < first_bad for step in reported)


def test_a_skipped_batch_loss_still_reaches_the_features_it_reads(one_thread):
    """FLIP-V's projection is trainable only for the feature losses; a one-class batch skips them, and DDP without
    find_unused_parameters would fail on the next step if the projection then had no gradient."""
    cfg = from_flat({**scale_overrides("smoke"), **VARIANTS.get("flip_v"), "loss.cr_mode": "repaired"})
    assert not find_unused_parameters(cfg)
    torch.manual_seed(0)
    model = create_model(cfg).train()
    loss, terms = total_loss(model(global_images()[:2]), torch.tensor([1, 1]), cfg.head.loss, cfg.loss)
    loss.backward()
    assert terms["skipped_one_class"].item() == 1.0 and terms["dm"].item() == terms["cdm"].item() == 0.0
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
