"""MoAE-CR Table 5: experts x heads.

Rows: experts 2/4/8 x heads 2/4/8 with DM+CDM (ACER on P1; the paper's best is 4 experts, 2 heads).

Runbook
  python sweeps/moae_grid.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/moae_grid.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/moae_grid.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.moae_cr import GRID_ROWS, MOAE_BASE, PAPER

SWEEP = AblationSpec(
    title="MoAE-CR Table 5: experts x heads",
    rows=GRID_ROWS,
    base=MOAE_BASE,
    protocols=("P1",),
    baseline="e4h2",
    metrics=('acer', 'acc', 'auc'),
    paper=paper_columns(PAPER["table5_acer"], ("acer",), "P1"),
    grid=("moe.moae.num_experts", "moe.moae.heads"),  # the paper prints ACER as experts (rows) x heads (columns)
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
