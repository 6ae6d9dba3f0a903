"""MoAE-CR Table 4: components.

Rows: CLIP, +SoftMoE, +MoAE, +MoAE+DM, +MoAE+CDM, +MoAE+DM+CDM (and the literal printed CR) on UniAttackData P1.

Runbook
  python sweeps/moae_components.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/moae_components.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/moae_components.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.moae_cr import COMPONENT_ROWS, MOAE_BASE, PAPER

SWEEP = AblationSpec(
    title="MoAE-CR Table 4: components",
    rows=COMPONENT_ROWS,
    base=MOAE_BASE,
    protocols=("P1",),
    baseline="clip",
    metrics=('acer', 'acc', 'auc'),
    paper=paper_columns(PAPER["table4"], ('acer', 'acc', 'auc'), "P1"),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
