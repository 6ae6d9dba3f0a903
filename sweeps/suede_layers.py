"""SUEDE Table IV: layer placement.

Rows: SUE layers in the early, middle, later blocks and all blocks (UniAttackData P1).

Runbook
  python sweeps/suede_layers.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/suede_layers.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/suede_layers.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.suede import LAYER_ROWS, PAPER, SUEDE_BASE

SWEEP = AblationSpec(
    title="SUEDE Table IV: layer placement",
    rows=LAYER_ROWS,
    base=SUEDE_BASE,
    protocols=("P1",),
    baseline="",
    paper=paper_columns(PAPER["table4"], TABLE_METRICS, "P1"),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
