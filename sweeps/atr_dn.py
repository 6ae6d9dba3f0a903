"""ATR-FAS Table 4: differential normalisation.

Rows: without DN, DN, Aurora Guard's consecutive differences, ten folds.

Runbook
  python sweeps/atr_dn.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/atr_dn.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/atr_dn.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.atr_fas import ATR_BASE, DN_ROWS, PAPER

SWEEP = AblationSpec(
    title="ATR-FAS Table 4: differential normalisation",
    rows=DN_ROWS,
    base=ATR_BASE,
    protocols=("F",),
    baseline="dn",
    metrics=('hter', 'eer'),
    paper=paper_columns(PAPER["table4"], ('hter', 'eer'), "F"),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
