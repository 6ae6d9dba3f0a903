"""MMoE mask-rate ablation (MMoE Table 5) and a per-expert mask-rate search.

Runbook
  Local demo (CPU, synthetic iris benchmark, 4M-parameter CLIP fine-tuned from its pretrained file; ~13 min on 2
  shared cores; scripts/demo.sh does both steps):
      python sweeps/mask_rates.py --pretrained "$(python -m pad_core pretrain)"
  Smoke test (seconds per trial):
      python sweeps/mask_rates.py --smoke-test [--mode search]
  The paper path rehearsed on a CPU (ViT-B/16, bf16, S3 data and checkpoints, 2 steps; scripts/rehearse.sh):
      python sweeps/mask_rates.py --scale rehearsal --smoke-test --storage s3://bucket/prefix
  Cluster (ViT-B/16, OpenAI weights, real IrisGeneral manifest, one A100 per trial):
      ray job submit --working-dir . -- python sweeps/mask_rates.py --scale paper \\
          --backbone ViT-B-16-quickgelu --pretrained openai --data s3://bucket/irisgeneral/manifest.csv \\
          --gpus-per-trial 1 --cpus-per-worker 11 --seeds 0,1,2
  Search (Optuna TPE over per-expert rates and lr on the dev metric, ASHA; then top-k on fresh seeds):
      python sweeps/mask_rates.py --mode search [--expert0 free]
  (the search's parent run then holds search_report/: history, fANOVA importance of each rate and the lr, summary;
  the confirmation table compares the top-k with the MMoE base config, row "base")

Rows: vanilla CLIP and Rates 1-4 of Table 5 (search_spaces/mmoe.py), on P1 and P2, mean±std over seeds.
The paper reports (P1 ACER/ACC/AUC/EER) Rate 1 1.23/98.76/99.34/1.18 ... vanilla CLIP 1.41/98.59/99.61/1.41.
Cost at paper scale: 5 rows x 2 protocols x 3 seeds = 30 ViT-B/16 runs of 4000 steps at batch 32; `--plan` prints
the estimated A100 GPU-hours of every cell.
"""

# No `from __future__ import annotations`: the Flags dataclass keeps evaluated types, which dataclasses read
# without the module in sys.modules (tests and tools load sweep files by path).
import functools
from dataclasses import dataclass, field, replace

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import paper_columns
from pad_core.ablation.search_spec import LrRange, SearchSpec
from pad_core.integrations.cli import sweep_main
from pad_core.sweep_args import SweepArgs
from search_spaces.mmoe import MASK_RATE_ROWS, MMOE_BASE, PAPER_TABLE5, mask_rate_space

SWEEP = AblationSpec(
    title="MMoE Table 5: mask rates",
    rows=MASK_RATE_ROWS,
    base=MMOE_BASE,
    protocols=("P1", "P2"),
    paper=paper_columns(PAPER_TABLE5, TABLE_METRICS),
    smoke_rows=("clip", "rate1"),  # --smoke-test: vanilla CLIP and Rate 1, the smoke rows this table always had
)

SEARCH = SearchSpec(title="MMoE mask-rate search", base=MMOE_BASE, space=mask_rate_space, protocol="P1", lr=LrRange())


@dataclass(frozen=True)
class Flags:
    expert0: str = field(default="fixed", metadata={
        "choices": ("fixed", "free"),
        "help": "search mode: keep expert 0 unmasked (the paper's reference) or search its rate too"})


def get_search(args: SweepArgs) -> SearchSpec:
    space = functools.partial(mask_rate_space, expert0_free=args.own.expert0 == "free")
    return replace(SEARCH, space=space).for_args(args)


if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=SWEEP.for_args, get_search=get_search, flags=Flags)
