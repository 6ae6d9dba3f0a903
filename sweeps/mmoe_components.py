"""MMoE Table 6: S / M / L components.

Rows: vanilla CLIP, CLIP+S, CLIP+S+L, CLIP+S+M, CLIP+S+M+L on P1 and P2 (paper: MMoE Table 6, PAPER_TABLE6).

Runbook
  python sweeps/mmoe_components.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/mmoe_components.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/mmoe_components.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.mmoe import COMPONENT_ROWS, MMOE_BASE, PAPER_TABLE6

SWEEP = AblationSpec(
    title="MMoE Table 6: S / M / L components",
    rows=COMPONENT_ROWS,
    base=MMOE_BASE,
    protocols=("P1", "P2"),
    baseline="clip",
    paper=paper_columns(PAPER_TABLE6, TABLE_METRICS),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
