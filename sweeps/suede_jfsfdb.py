"""SUEDE Table II: JFSFDB joint training, cross-domain.

Rows: MesoNet (Meso-4), Xception, DeepPixBiS, ResNet50, ViT-B/16, CLIP, SUEDE on ``joint.cross``: trained on JFSFDB's
four training sets together, tested on the five sets never trained on (pad_core/data/protocol_defs/jfsfdb.json).
Columns AUC, EER, TPR@FPR=10% and TPR@FPR=1% (``eval.tpr_at_fpr``; the positive class is ``eval.tpr_positive``,
bona fide by default: SUEDE does not say). Not run (docs/SCHEDULES.md "Baselines"): CDCN, MultiAtten; DeepPixBiS
trains its binary output only (no pixel-wise loss). CLIP has no paper number here.

Runbook
  python sweeps/suede_jfsfdb.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/suede_jfsfdb.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/suede_jfsfdb.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.suede import PAPER_TABLE2, SUEDE_JFSFDB_BASE, TABLE2_METRICS, TABLE2_PROTOCOLS, TABLE2_ROWS

SWEEP = AblationSpec(
    title="SUEDE Table II: JFSFDB joint training, cross-domain (not run: CDCN, MultiAtten)",
    rows=TABLE2_ROWS,
    base=SUEDE_JFSFDB_BASE,
    protocols=TABLE2_PROTOCOLS,
    baseline="clip",
    metrics=TABLE2_METRICS,
    paper=paper_columns(PAPER_TABLE2, TABLE2_METRICS, TABLE2_PROTOCOLS[0]),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
