"""BIG-MoE: convolutional prompt bypass.

Rows: CPB with the figure's residual, CPB as released (no residual), no CPB, leave-one-domain-out P1.

Runbook
  python sweeps/bigmoe_cpb.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/bigmoe_cpb.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/bigmoe_cpb.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.integrations.cli import sweep_main
from search_spaces.bigmoe import BIGMOE_BASE, CPB_ROWS

SWEEP = AblationSpec(
    title="BIG-MoE: convolutional prompt bypass",
    rows=CPB_ROWS,
    base=BIGMOE_BASE,
    protocols=("P1",),
    baseline="cpb",
    metrics=('hter', 'auc'),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
