"""Head losses and the weighting of aux terms."""

import math

import pytest
import torch

from pad_core.config import LossCfg
from pad_core.losses import total_loss
from pad_core.models.pad_model import PADOut


def out_for(embed, protos, logits=None, aux=None):
    scale = torch.tensor(math.log(10.0))
    logits = logits if logits is not None else 10.0 * torch.nn.functional.normalize(embed, dim=-1) @ protos.T
    return PADOut(logits=logits, embed=embed, cls=embed, prototypes=protos, logit_scale=scale, aux=aux or {})


def test_ce2_is_cross_entropy_over_prompt_logits():
    protos = torch.eye(2)
    out = out_for(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), protos)
    loss, terms = total_loss(out, torch.tensor([0, 1]), "ce2", LossCfg())
    expected = -math.log(math.exp(10) / (math.exp(10) + 1))
    assert float(loss) == pytest.approx(expected, rel=1e-3) and set(terms) == {"cls", "loss"}


def test_clip_symmetric_by_hand():
    protos = torch.eye(2)  # T_spoof = e0, T_live = e1
    embed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1, 0])
    # S_ij = 10 * <f_i, T_{y_j}>: rows are images, columns the prompts of each sample's label
    s = 10.0 * torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    rows = -torch.log_softmax(s, dim=1).diagonal().mean()
    cols = -torch.log_softmax(s, dim=0).diagonal().mean()
    loss, _ = total_loss(out_for(embed, protos), labels, "clip_symmetric", LossCfg())
    assert float(loss) == pytest.approx(float(rows + cols) / 2)
    # Same-class pairs act as negatives (METHODS.md §1.2): even perfect features leave log(2) for each of
    # the two spoof samples, which share a prompt, so the loss floor here is (2/3) log 2.
    assert float(loss) == pytest.approx(2 / 3 * math.log(2), rel=1e-3)


def test_aux_terms_are_weighted_only_in_the_total():
    out = out_for(torch.randn(2, 2), torch.eye(2), aux={"moe_cosine": torch.tensor(3.0)})
    off, terms_off = total_loss(out, torch.tensor([0, 1]), "ce2", LossCfg(moe_cosine_w=0.0))
    on, terms_on = total_loss(out, torch.tensor([0, 1]), "ce2", LossCfg(moe_cosine_w=0.5))
    assert float(on - off) == pytest.approx(1.5)
    assert float(terms_off["moe_cosine"]) == float(terms_on["moe_cosine"]) == 3.0  # logged unweighted either way
