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

from __future__ import annotations

import functools

from pad_core.ablation import TABLE_METRICS, AblationSpec
from pad_core.ablation.declare import given, paper_columns, protocol_list, search_protocol
from pad_core.config import is_paper_scale
from pad_core.integrations.cli import sweep_main
from pad_core.integrations.search import SearchSpec
from search_spaces.mmoe import MASK_RATE_ROWS, MMOE_BASE, PAPER_TABLE5, mask_rate_space

DEMO_SEEDS, PAPER_SEEDS = (0, 1), (0, 1, 2)


def get_ablation(args) -> AblationSpec:
    smoke = args.smoke_test
    rows = MASK_RATE_ROWS[:2] if smoke else MASK_RATE_ROWS
    base = {**MMOE_BASE, **args.overrides}
    protocols = protocol_list(args.protocols, ("P1",) if smoke else ("P1", "P2"), base)
    seeds = given(args.seeds, (0,) if smoke else PAPER_SEEDS if is_paper_scale(args.scale) else DEMO_SEEDS)
    return AblationSpec(name=args.name, title="MMoE Table 5: mask rates", rows=rows, protocols=protocols,
                        seeds=seeds, base=base, paper=paper_columns(PAPER_TABLE5, TABLE_METRICS))


def get_search(args) -> SearchSpec:
    smoke = args.smoke_test
    # demo: around the demo's fine-tuning lr 3e-4 (1e-3 already overwrites the pretrained tiny backbone; scales.py)
    lr_range = (3e-7, 3e-5) if is_paper_scale(args.scale) else (1e-4, 1e-3)
    space = functools.partial(mask_rate_space, expert0_free=args.expert0 == "free", lr_range=lr_range)
    base = {**MMOE_BASE, **args.overrides}
    return SearchSpec(name=args.name + "-search", title="MMoE mask-rate search", base=base,
                      space=space, protocol=search_protocol(args, "P1", base),
                      num_samples=given(args.num_samples, 4 if smoke else 16),
                      top_k=given(args.top_k, 1 if smoke else 2),
                      confirm_seeds=given(args.confirm_seeds, (100,) if smoke else (100, 101)))


def add_arguments(group) -> None:
    group.add_argument("--expert0", choices=("fixed", "free"), default="fixed",
                       help="search mode: keep expert 0 unmasked (the paper's reference) or search its rate too")


if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_ablation=get_ablation, get_search=get_search, add_arguments=add_arguments)
