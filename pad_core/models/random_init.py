"""Which rows may train from random init: one rule for sweeps (pad_core.integrations.cli) and ``python -m pad_core
train``. At a paper scale every method fine-tunes pretrained weights, so a random-init row's numbers would not be the
papers'; the demo scale fine-tunes its CLIP rows from the backbone ``python -m pad_core pretrain`` builds (its
torchvision rows are random init by design). Networks their papers train from scratch (ATR-FAS's CNN, MesoNet) are
never refused."""

from __future__ import annotations

from collections.abc import Collection

from pad_core.config import RunCfg, is_paper_scale
from pad_core.errors import SweepError
from pad_core.models.initial_weights import PRETRAINED, starts_from_random_init, weights_key, weights_value

WEIGHT_FLAG = {"backbone.pretrained": "--pretrained TAG|PATH (CLIP rows)",
               "backbone.imagenet_weights": "--imagenet-weights PATH|torchvision (torchvision rows)"}
NONE_PUBLISHED = ": torchvision publishes no ImageNet weights for it, give a file"


def check_random_init(configs: dict[str, RunCfg], scale: str, allow: bool, named: Collection[str] = ()) -> None:
    """Refuse rows (name -> config) that would train from random init where ``scale`` fine-tunes. ``named``: the
    weight keys the command line gives; at the demo scale random init named there (``--pretrained ''``) is
    deliberate, only the scale's own empty default is refused."""
    if allow or not (is_paper_scale(scale) or scale == "demo") or (scale == "demo" and PRETRAINED in named):
        return
    random = {row: weights_key(cfg) for row, cfg in configs.items() if starts_from_random_init(cfg)}
    if scale == "demo":
        random = {row: key for row, key in random.items() if key == PRETRAINED}
    if not random:
        return
    shown = ", ".join(_random_row(row, key, configs[row]) for row, key in random.items())
    flags = " or ".join(dict.fromkeys(WEIGHT_FLAG[key] for key in random.values()))
    if scale == "demo":
        raise SweepError("--scale", scale, f"the demo scale fine-tunes pretrained CLIP rows (lr 3e-4, text tower "
                         f"trained), but these would start from random init, where the text prototypes collapse: "
                         f"{shown}", "give backbone.pretrained the demo backbone, built once and cached by "
                         "`python -m pad_core pretrain` (a sweep: --pretrained \"$(python -m pad_core pretrain)\", as "
                         "scripts/demo.sh does; python -m pad_core train: --set backbone.pretrained=...), or "
                         "--allow-random-init --set backbone.train_text=false --set optim.lr=1e-3 for the "
                         "from-scratch regime")
    raise SweepError("--scale", scale, f"rows would start from random init: {shown}", f"give their weights with "
                     f"{flags}, or pass --allow-random-init to train them from scratch on purpose")


def _random_row(row: str, key: str, cfg: RunCfg) -> str:
    value = weights_value(cfg)
    return f"{row} ({key}={value!r}, {cfg.backbone.name}{NONE_PUBLISHED * (value == 'torchvision')})"
