"""MoAE-CR Table 1: UniAttackData baselines.

Rows: ResNet50, ViT-B/16, CLIP, MoAE-CR on P1 and P2 (P2.1 unseen physical, P2.2 unseen digital, P2 = their mean).
Not run (no runnable implementation, docs/SCHEDULES.md "Baselines"): Auxiliary, CDCN, FFD, UniAttackDetection; their
numbers are in search_spaces/moae_cr.py (PAPER_TABLE1_NOT_RUN). The paper's P2 is mean±std over P2.1/P2.2: the
reference table holds the means, the stds are in search_spaces/moae_cr.py (PAPER_P2_STD). CLIP's paper number is
Table 4's (ACER/ACC/AUC, P1). Schedule: MoAE-CR's (300 optimiser steps, batch 32, Adam 1e-6, wd 5e-4) for every
row; the paper does not give the baselines' own.

Runbook
  python sweeps/moae_uniattack.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/moae_uniattack.py --smoke-test   # baseline + one row, one protocol, one seed
  python sweeps/moae_uniattack.py --scale paper --plan --data /abs/uniattackdata.parquet   # cells, weights, guesses
  ray job submit --working-dir . -- python sweeps/moae_uniattack.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.moae_cr import BASELINE_ROWS, MOAE_BASE, PAPER_TABLE1

SWEEP = AblationSpec(
    title="MoAE-CR Table 1: UniAttackData baselines (not run: Auxiliary, CDCN, FFD, UniAttackDetection)",
    rows=BASELINE_ROWS,
    base=MOAE_BASE,
    protocols=("P1", "P2"),
    baseline="clip",
    paper=paper_columns(PAPER_TABLE1, TABLE_METRICS),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
