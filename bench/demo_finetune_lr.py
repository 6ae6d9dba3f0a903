"""Which learning rate the demo fine-tunes its pretrained tiny CLIP with: test ACER / AUC / EER of demo cells
(``--scale demo`` over the MMoE base, P1, seed 0) fine-tuned from the cached demo backbone at each learning rate,
with the text tower trained or frozen, and the cosine between the final "attack" and "live" text prototypes
(1.0 = collapsed: the prompt head cannot tell the classes apart).

    .venv/bin/python bench/demo_finetune_lr.py --lrs 3e-5,1e-4,3e-4 --rows clip,rate1 [--train-text both]
        [--scratch-lr 1e-3] [--json out.json]

``--scratch-lr`` adds the old regime (random init, frozen text) as the reference row.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root holds pad_core/

import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from bench.common import base_parser, emit, machine, md_table, setup  # noqa: E402
from bench.demo_profile import cell_config  # noqa: E402
from pad_core.engine.loop import TrainingRun  # noqa: E402
from pad_core.pretrain.cache import pretrained_weights  # noqa: E402
from pad_core.pretrain.spec import DEMO_PRETRAIN  # noqa: E402


def prototype_cosine(model) -> float:
    with torch.no_grad():
        protos = model.head.prototypes(model.clip.encode_text)
    return float(F.cosine_similarity(protos[0], protos[1], dim=0))


def run_cell(row: str, weights: str, sets: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    run = TrainingRun(cell_config(row, weights, sets))
    metrics = run.fit()
    return {"acer": metrics["test/p1/acer"], "auc": metrics["test/p1/auc"], "eer": metrics["test/p1/eer"],
            "proto_cos": prototype_cosine(run.model), "seconds": time.perf_counter() - started}


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--lrs", default="3e-5,1e-4,3e-4")
    parser.add_argument("--rows", default="clip,rate1")
    parser.add_argument("--train-text", choices=("true", "false", "both"), default="true")
    parser.add_argument("--scratch-lr", type=float, default=0.0, help="also run random init at this lr (old demo)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    setup(args)
    weights = str(pretrained_weights(DEMO_PRETRAIN).path)
    texts = ("true", "false") if args.train_text == "both" else (args.train_text,)
    plans = [(row, lr, text, weights) for row in args.rows.split(",") for lr in args.lrs.split(",") for text in texts]
    if args.scratch_lr:
        plans += [(row, str(args.scratch_lr), "false", "") for row in args.rows.split(",")]
    rows, results = [], []
    for row, lr, text, path in plans:
        sets = [*args.set, f"optim.lr={lr}", f"backbone.train_text={text}"]
        if not path:
            sets.append("backbone.pretrained=")
        m = run_cell(row, path, sets)
        start = "pretrained" if path else "random init"
        results.append({"row": row, "lr": float(lr), "train_text": text, "start": start, **m})
        rows.append((row, start, lr, text, f"{100 * m['acer']:.2f}", f"{100 * m['auc']:.2f}", f"{100 * m['eer']:.2f}",
                     f"{m['proto_cos']:.3f}", f"{m['seconds']:.0f}"))
        print(rows[-1], flush=True)
    table = md_table(("row", "start", "lr", "train_text", "test ACER %", "AUC %", "EER %", "proto cos", "s"), rows)
    emit("demo fine-tuning learning rate (P1, seed 0)", machine(), [table], {"cells": results}, args.json)


if __name__ == "__main__":
    main()
