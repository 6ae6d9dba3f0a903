"""ATR-FAS Table 3: MEMM / DGM settings.

Rows: the ten MEMM/DGM settings, intra-type ten-fold cross-validation (F = F1..F10).

Runbook
  python sweeps/atr_mixing.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/atr_mixing.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/atr_mixing.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.atr_fas import ATR_BASE, MIXING_ROWS, PAPER

SWEEP = AblationSpec(
    title="ATR-FAS Table 3: MEMM / DGM settings",
    rows=MIXING_ROWS,
    base=ATR_BASE,
    protocols=("F",),
    baseline="dgm",
    metrics=('hter', 'eer'),
    paper=paper_columns(PAPER["table3"], ('hter', 'eer'), "F"),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
