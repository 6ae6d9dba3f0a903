"""MMoE Tables 3-4: backbones.

Rows: ResNet50, ViT-B/16, CLIP, FLIP, MMoE on P1, P2 and P3.1-P3.6 with the P3 average column. The paper's numbers:
P1, P2 and the P3 average for every row (ACER/ACC/AUC/EER), and MMoE's per-sub-protocol ACER/EER.

Runbook
  python sweeps/mmoe_backbones.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/mmoe_backbones.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/mmoe_backbones.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.mmoe import BACKBONE_PROTOCOLS, BACKBONE_ROWS, MMOE_BASE, PAPER_TABLES34, PAPER_TABLES34_P3_MMOE

PAPER = paper_columns(PAPER_TABLES34, TABLE_METRICS)
PAPER["mmoe"].update(PAPER_TABLES34_P3_MMOE)

SWEEP = AblationSpec(
    title="MMoE Tables 3-4: backbones",
    rows=BACKBONE_ROWS,
    base=MMOE_BASE,
    protocols=BACKBONE_PROTOCOLS,
    baseline="clip",
    paper=PAPER,
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
