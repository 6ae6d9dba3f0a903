"""SUEDE Table I: UniAttackData.

Rows: ResNet50, ViT-B/16, CLIP, SUEDE on P1 and P2 (P2.1 unseen physical, P2.2 unseen digital, P2 = their mean).
Not run (docs/SCHEDULES.md "Baselines"): Auxiliary, CDCN, FFD, UniAttackDetection; their numbers are in
search_spaces/suede.py (PAPER_TABLE1_NOT_RUN). The paper's P2 is mean±std over P2.1/P2.2: the reference table holds
the means, the stds are in search_spaces/suede.py (PAPER_P2_STD). Schedule: SUEDE's base for every row; its lr, loss
weights, batch and steps are guesses (--plan lists them).

Runbook
  python sweeps/suede_uniattack.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/suede_uniattack.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/suede_uniattack.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.suede import PAPER_TABLE1, SUEDE_BASE, TABLE1_ROWS

SWEEP = AblationSpec(
    title="SUEDE Table I: UniAttackData (not run: Auxiliary, CDCN, FFD, UniAttackDetection)",
    rows=TABLE1_ROWS,
    base=SUEDE_BASE,
    protocols=("P1", "P2"),
    baseline="clip",
    paper=paper_columns(PAPER_TABLE1, TABLE_METRICS),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
