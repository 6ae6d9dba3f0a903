"""Sibling baselines (pad_core/models/baselines): each builds through create_model as a table row builds it, gives
(b, 2) logits at its published input size, trains a step (every parameter gets a gradient, the loss is finite and
the weights move), passes the pre-launch model checks; DeepPixBiS takes torchvision's DenseNet161 tensors."""

import re

import pytest
import torch

from pad_core.config import from_flat
from pad_core.losses import total_loss
from pad_core.models.backbones import TV_BACKBONES, backbone_info
from pad_core.models.baselines import SIBLINGS
from pad_core.models.baselines.deeppixbis import DeepPixBiS, imagenet_state
from pad_core.models.factory import create_model, validate_model_cfg
from pad_core.models.variants import IMAGENET_BASELINE

PUBLISHED_SIZE = {"meso4": 256, "xception": 299, "deeppixbis": 224}
STEP_SIZE = {"meso4": 256, "xception": 64, "deeppixbis": 64}  # Meso-4's flatten needs 256; the others pool


def row_cfg(name: str):
    return from_flat({"backbone.name": name, **IMAGENET_BASELINE, "backbone.imagenet_weights": ""})


@pytest.mark.parametrize("name", sorted(SIBLINGS))
def test_registered_with_the_published_input_size(name):
    assert name in TV_BACKBONES and backbone_info(name).image_size == PUBLISHED_SIZE[name]
    validate_model_cfg(row_cfg(name))  # what a sweep checks before any trial


@pytest.mark.parametrize("name", sorted(SIBLINGS))
def test_feature_at_the_published_size_and_logits(name):
    with torch.device("meta"):  # shapes only: a 299-px Xception forward costs seconds on a CPU (the head's fp32
        backbone = TV_BACKBONES.get(name).build()  # region needs a real device, so the head runs below)
        feature = backbone(torch.empty(2, 3, PUBLISHED_SIZE[name], PUBLISHED_SIZE[name]))
    assert feature.shape == (2, TV_BACKBONES.get(name).feature_dim)
    with torch.no_grad():
        out = create_model(row_cfg(name)).eval()(torch.rand(2, 3, STEP_SIZE[name], STEP_SIZE[name]))
    assert out.logits.shape == (2, 2) and torch.isfinite(out.logits).all()


@pytest.mark.parametrize("name", sorted(SIBLINGS))
def test_one_training_step_moves_every_parameter(name):
    torch.manual_seed(0)
    cfg = row_cfg(name)
    model = create_model(cfg).train()
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    images = torch.rand(4, 3, STEP_SIZE[name], STEP_SIZE[name])
    labels = torch.tensor([0, 1, 0, 1])
    loss, _ = total_loss(model(images), labels, cfg.head.loss, cfg.loss)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss.backward()
    assert torch.isfinite(loss)
    assert [k for k, p in model.named_parameters() if p.grad is None] == []
    optim.step()
    moved = [k for k, p in model.named_parameters() if not torch.equal(p, before[k])]
    assert len(moved) == len(before)


def test_deeppixbis_takes_torchvision_densenet161_tensors_in_either_key_format():
    import torchvision

    source = torchvision.models.densenet161().state_dict()
    # torchvision's cached file predates its module names ("norm.1" for "norm1") and batch-norm counters
    old_format = {re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v for k, v in source.items()
                  if not k.endswith("num_batches_tracked")}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_format
    wanted = {f"features.{k}" for k in DeepPixBiS().features.state_dict() if not k.endswith("num_batches_tracked")}
    for state in (source, old_format):
        model = DeepPixBiS()
        taken = imagenet_state(state)
        assert wanted <= set(taken) <= {f"features.{k}" for k in model.features.state_dict()}
        model.load_state_dict({**model.state_dict(), **taken}, strict=True)
        mine = model.features.denseblock2.denselayer3.conv2.weight  # renamed in the old format, randomly drawn
        assert torch.equal(mine, source["features.denseblock2.denselayer3.conv2.weight"])
