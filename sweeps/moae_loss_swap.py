"""MoAE-CR Table 2: loss swap.

Rows: MoAE with SupContrastive, N-pair, Triplet, Hard Triplet instead of DM+CDM, against MoAE-CR (P1, P2.1, P2.2, P2).
The paper's P2 is mean±std over P2.1/P2.2: the reference table holds the means (stds in search_spaces/moae_cr.py,
PAPER_P2_STD); SupContrastive's P2 EER is missing from the source text, so that cell stays empty.

Runbook
  python sweeps/moae_loss_swap.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/moae_loss_swap.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/moae_loss_swap.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.moae_cr import LOSS_SWAP_ROWS, MOAE_BASE, PAPER_TABLE2

SWEEP = AblationSpec(
    title="MoAE-CR Table 2: loss swap",
    rows=LOSS_SWAP_ROWS,
    base=MOAE_BASE,
    protocols=("P1", "P2"),
    baseline="moae_cr",
    paper=paper_columns(PAPER_TABLE2, TABLE_METRICS),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
