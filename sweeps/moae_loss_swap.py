"""MoAE-CR Table 2: loss swap.

Rows: MoAE with SupContrastive, N-pair, Triplet, Hard Triplet instead of DM+CDM, against MoAE-CR (P1, P2.1, P2.2, P2).

Runbook
  python sweeps/moae_loss_swap.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/moae_loss_swap.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/moae_loss_swap.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation.declare import GridSweep
from pad_core.integrations.cli import sweep_main
from search_spaces.moae_cr import LOSS_SWAP_ROWS, MOAE_BASE

SWEEP = GridSweep(
    title="MoAE-CR Table 2: loss swap",
    rows=LOSS_SWAP_ROWS,
    base=MOAE_BASE,
    protocols=("P1", "P2"),
    baseline="moae_cr",
    metrics=('acer', 'acc', 'auc'),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.spec)
