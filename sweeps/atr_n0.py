"""ATR-FAS Fig. 7: flash frames N0.

Rows: N0 = 3..8 flash frames (N = 2(N0 - 2) differential frames), ten folds.

Runbook
  python sweeps/atr_n0.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/atr_n0.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/atr_n0.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.integrations.cli import sweep_main
from search_spaces.atr_fas import ATR_BASE, N0_ROWS

SWEEP = AblationSpec(
    title="ATR-FAS Fig. 7: flash frames N0",
    rows=N0_ROWS,
    base=ATR_BASE,
    protocols=("F",),
    baseline="n0_5",
    metrics=('hter', 'eer'),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
