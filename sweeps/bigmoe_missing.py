"""BIG-MoE: missing modalities.

Rows: modality-drop rate 0 / 0.1 / 0.3 / 0.5, tested with depth, IR, or both missing (P2 groups over C, P, S, W).

Runbook
  python sweeps/bigmoe_missing.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/bigmoe_missing.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/bigmoe_missing.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.integrations.cli import sweep_main
from search_spaces.bigmoe import BIGMOE_BASE, DROP_ROWS

SWEEP = AblationSpec(
    title="BIG-MoE: missing modalities",
    rows=DROP_ROWS,
    base=BIGMOE_BASE,
    protocols=("P2.no_depth", "P2.no_ir", "P2.no_depth_ir"),
    baseline="drop0.3",
    metrics=('hter', 'auc'),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
