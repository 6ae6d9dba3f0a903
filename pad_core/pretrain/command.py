"""``python -m pad_core pretrain``: build (or find) the demo's pretrained tiny CLIP and print its path."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace


def add_parser(sub) -> None:
    p = sub.add_parser("pretrain", help="pretrain the tiny CLIP on the synthetic captioned-shapes corpus (cached by "
                       "its config); prints the weights file for --pretrained")
    p.add_argument("--steps", type=int, help="optimiser steps (default: the demo's)")
    p.add_argument("--seed", type=int, help="corpus and init seed (default: the demo's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from pad_core.pretrain.cache import pretrained_weights
    from pad_core.pretrain.spec import DEMO_PRETRAIN

    changes = {k: v for k, v in (("steps", args.steps), ("seed", args.seed)) if v is not None}
    weights = pretrained_weights(replace(DEMO_PRETRAIN, **changes), log=lambda m: print(m, file=sys.stderr))
    print(weights.path)  # stdout holds the path alone: demo.sh reads it
