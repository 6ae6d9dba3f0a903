"""SUEDE Fig. 5: routed experts.

Rows: 2, 4, 6, 8 routed experts with top-2 routing beside the shared expert (UniAttackData P1).

Runbook
  python sweeps/suede_routed.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/suede_routed.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/suede_routed.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.integrations.cli import sweep_main
from search_spaces.suede import ROUTED_COUNT_ROWS, SUEDE_BASE

SWEEP = AblationSpec(
    title="SUEDE Fig. 5: routed experts",
    rows=ROUTED_COUNT_ROWS,
    base=SUEDE_BASE,
    protocols=("P1",),
    baseline="",
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
