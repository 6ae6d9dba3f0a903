"""MoAE-CR Table 3: JFSFDB "p2 intra protocol".

Rows: ResNet50, ViT-B/16, CLIP, MoAE-CR on ``joint.intra`` (JFSFDB's joint training, tested on the test parts of the
training sets: our reading of "p2 intra", pad_core/data/protocol_defs/jfsfdb.json) and on JFSFDB's separate training
(``separate-intra``: a spoofing model and a forgery model, each tested on its own sets; no paper numbers).
Not run: Auxiliary, CDCN, FFD (docs/SCHEDULES.md "Baselines"; numbers in search_spaces/moae_cr.py). CLIP has no
paper number here. Schedule: MoAE-CR's for every row.

Runbook
  python sweeps/moae_jfsfdb.py   # demo scale, synthetic benchmark (needs MLFLOW_TRACKING_URI)
  python sweeps/moae_jfsfdb.py --smoke-test   # baseline + one row, one protocol, one seed
  ray job submit --working-dir . -- python sweeps/moae_jfsfdb.py --scale paper --data s3://bucket/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11
"""

from __future__ import annotations

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.integrations.cli import sweep_main
from search_spaces.moae_cr import MOAE_JFSFDB_BASE, PAPER_TABLE3, TABLE3_PROTOCOLS, TABLE3_ROWS

SWEEP = AblationSpec(
    title="MoAE-CR Table 3: JFSFDB p2 intra (not run: Auxiliary, CDCN, FFD)",
    rows=TABLE3_ROWS,
    base=MOAE_JFSFDB_BASE,
    protocols=TABLE3_PROTOCOLS,
    baseline="clip",
    paper=paper_columns(PAPER_TABLE3, TABLE_METRICS, TABLE3_PROTOCOLS[0]),
)

if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args)
