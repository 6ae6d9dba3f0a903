"""Optimiser kernels (optim.impl) give the same update up to float rounding; the CPU heap setting takes effect."""

import sys

import pytest
import torch

from pad_core.config import from_flat
from pad_core.engine.heap import keep_freed_memory
from pad_core.engine.optim import KERNELS, build_optimizer


def train(impl: str, name: str, steps: int = 3) -> torch.Tensor:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.Linear(32, 2))
    cfg = from_flat({"optim.impl": impl, "optim.name": name, "optim.lr": 1e-2, "optim.weight_decay": 1e-2})
    optimizer, scheduler = build_optimizer(model, cfg.optim, total_steps=3)
    x = torch.randn(64, 16)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()
        optimizer.step()
        scheduler.step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("impl", sorted(set(KERNELS) - {"single"}))
def test_every_kernel_makes_the_single_tensor_update(impl, name):
    single = train("single", name)
    assert (single - train("single", name, steps=0)).abs().max() > 1e-3  # the steps do move the weights
    torch.testing.assert_close(train(impl, name), single, rtol=1e-5, atol=1e-6)


def test_the_kernel_is_what_the_config_names():
    model = torch.nn.Linear(4, 2)
    for impl, flags in KERNELS.items():
        optimizer, _ = build_optimizer(model, from_flat({"optim.impl": impl}).optim, total_steps=1)
        assert {k: optimizer.defaults[k] for k in flags} == flags


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_heap_reuse_takes_effect_on_linux():
    assert keep_freed_memory() is True
