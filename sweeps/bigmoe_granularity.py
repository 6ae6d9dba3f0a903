"""BIG-MoE: expert granularity.

Rows: PEER fine-grained rank-1 experts vs 4 full FFN experts, leave-one-domain-out P1 (C, P, S, W held out).

Runbook
  python sweeps/bigmoe_granularity.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/bigmoe_granularity.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/bigmoe_granularity.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.integrations.cli import sweep_main
from search_spaces.bigmoe import BIGMOE_BASE, GRANULARITY_ROWS

SWEEP = AblationSpec(
    title="BIG-MoE: expert granularity",
    rows=GRANULARITY_ROWS,
    base=BIGMOE_BASE,
    protocols=("P1",),
    baseline="peer",
    metrics=('hter', 'auc'),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
