"""Hyperparameter search for one method: Optuna TPE over a define-by-run space from search_spaces/hpo.py,
early stopping on a dev metric (ASHA, or --scheduler sha: synchronous successive halving), then the top-k
configurations confirmed on fresh seeds at full budget, next to the search's base config (the table's baseline
row: did the search beat where it started?).

What the search learned is on its MLflow parent run (pad_core/integrations/search_report.py): search_report/
history.csv|png (objective per trial in start order, best so far; metrics search/<p>/<metric> and
search/<p>/best_<metric>, step = trial), importance.csv|png (fANOVA importance of each parameter, mean ± std over
5 evaluator seeds; search/<p>/importance_<metric>.<param>), pareto.csv|png (with --also), summary.md.

Runbook
  python sweeps/hpo.py --space suede                      # TPE + ASHA on dev EER, top-2 on seeds 100, 101
  python sweeps/hpo.py --space moae --objective acer --also step_seconds:min   # multi-objective, Pareto top-k
  python sweeps/hpo.py --space mmoe --scheduler sha --grace-period 2 --reduction-factor 4   # few samples per slot
  python sweeps/hpo.py --space moe --smoke-test           # which MoE kind, with each kind's own parameters
  ray job submit --working-dir . -- python sweeps/hpo.py --space mmoe --scale paper \\
      --backbone ViT-B-16-quickgelu --pretrained openai --data s3://bucket/irisgeneral/manifest.csv \\
      --gpus-per-trial 1 --cpus-per-worker 11 --num-samples 32

Spaces (conditional parameters are drawn only where they act): mmoe (per-expert mask rates, cosine weight),
moae (experts, heads, class regularisation on/off and its weights), suede (routed experts, top-k, layers),
bigmoe (PEER keys/top-k or FFN experts, CDC θ, modality drop), atr (N0, depth and gate weights), moe (the
MoE kind itself). Every space also draws the learning rate (and weight decay) on a log scale.

The objective reads dev metrics only (a test metric is refused before anything runs); a space that draws
ablation rows, the protocol or the seed is refused too: rows are walked as a grid by the other sweep files.
"""

# No `from __future__ import annotations`: the Flags dataclass keeps evaluated types, which dataclasses read
# without the module in sys.modules (tests and tools load sweep files by path).
from dataclasses import dataclass, field, replace

from pad_core.ablation.search_spec import SearchSpec
from pad_core.errors import SweepError
from pad_core.integrations.cli import sweep_main
from pad_core.sweep_args import SweepArgs
from search_spaces.hpo import SPACES


def objective_pair(text: str) -> tuple[str, str]:
    """``--also metric:mode`` as (metric, mode), read while the command line is parsed."""
    metric, _, mode = text.partition(":")
    if mode not in ("min", "max"):
        raise SweepError("--also", text, "needs metric:mode", "e.g. --also step_seconds:min")
    return metric, mode


@dataclass(frozen=True)
class Flags:
    space: str = field(default="suede", metadata={"help": f"search space: one of {SPACES.list()}"})
    objective: str = field(default="eer", metadata={"help": "dev metric to optimise (read as dev/<protocol>/<metric>)"})
    objective_mode: str = field(default="min", metadata={"choices": ("min", "max")})
    also: tuple[tuple[str, str], ...] = field(default=(), metadata={
        "action": "append", "type": objective_pair, "metavar": "METRIC:MODE",
        "help": "a further objective (multi-objective TPE; top-k by Pareto front), e.g. step_seconds:min"})
    sampler_seed: int = field(default=0, metadata={"help": "TPE seed (a re-run draws the same configs)"})


def get_search(args: SweepArgs) -> SearchSpec:
    own = args.own
    chosen = replace(SPACES.get(own.space), metric=own.objective, mode=own.objective_mode,
                     sampler_seed=own.sampler_seed, also=own.also)
    return chosen.for_args(args)


if __name__ == "__main__":
    sweep_main(__doc__, __file__, get_search=get_search, flags=Flags)
